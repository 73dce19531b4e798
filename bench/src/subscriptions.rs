//! The `subscriptions` scenario: many sockets following `orderPlaced` on one server, a burst of
//! orders, and how long each event takes from its write in the committing transaction to each
//! subscriber.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{drive_checkout, process_cpu, resident_kib};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every socket follows: the event's id and commit time, nothing read from the store.
const SUBSCRIPTION: &str = "subscription { orderPlaced { eventId at } }";

/// Sockets opened at once while connecting.
const OPENING: usize = 200;

/// Guests placing the burst's orders at once.
const BUYERS: usize = 4;

/// How long the scenario waits for a delivery before calling it missing.
const PATIENCE: Duration = Duration::from_secs(60);

/// What one subscriber saw: per order event, the event id and the delay from its write to its
/// arrival, in microseconds.
type Seen = Vec<(i64, u64)>;

/// Opens a socket signed in with `token` and subscribes it to `orderPlaced`.
async fn subscribe(url: &str, token: &str) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({ "type": "connection_init", "payload": { "accessToken": token } });
    socket.send(Message::text(init.to_string())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text)?;
                if message["type"] == "connection_ack" {
                    break;
                }
                bail!("the server refused the socket: {text}");
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => bail!("the socket closed before connection_ack: {other:?}"),
        }
    }
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } });
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}

/// Reads `orderPlaced` deliveries until `stop` turns true, counting the first one in `warm` and
/// every one in `delivered`.
async fn listen(
    mut socket: Socket,
    mut stop: watch::Receiver<bool>,
    warm: Arc<AtomicUsize>,
    delivered: Arc<AtomicUsize>,
) -> Seen {
    let mut seen = Vec::new();
    loop {
        let message = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            message = socket.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break,
        };
        let arrived = Utc::now();
        let Ok(message) = serde_json::from_str::<Value>(&text) else { continue };
        let event = &message["payload"]["data"]["orderPlaced"];
        let (Some(id), Some(at)) = (event["eventId"].as_i64(), event["at"].as_str()) else { continue };
        let Ok(at) = DateTime::parse_from_rfc3339(at) else { continue };
        let delay = (arrived - at.with_timezone(&Utc)).num_microseconds().unwrap_or(0).max(0);
        if seen.is_empty() {
            warm.fetch_add(1, Ordering::Relaxed);
        }
        seen.push((id, u64::try_from(delay).unwrap_or(0)));
        delivered.fetch_add(1, Ordering::Relaxed);
    }
    let _ = socket.close(None).await;
    seen
}

/// Polls `counter` until it reaches `target` or `patience` passes; whether it did.
async fn reached(counter: &AtomicUsize, target: usize, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// Runs the scenario against the server `pid` at `base`: `subscribers` sockets signed in as
/// `token`, then `burst` orders of `products`, and prints what it measured.
pub async fn run(
    client: &reqwest::Client,
    base: &str,
    pid: u32,
    token: &str,
    (subscribers, burst): (usize, usize),
    products: &[String],
) -> anyhow::Result<()> {
    let url = format!("{}/graphql", base.replace("http://", "ws://"));
    let idle_kib = resident_kib(pid).unwrap_or(0);
    let started = Instant::now();
    let sockets: Vec<anyhow::Result<Socket>> =
        stream::iter(0..subscribers).map(|_| subscribe(&url, token)).buffer_unordered(OPENING).collect().await;
    let sockets: Vec<Socket> =
        sockets.into_iter().collect::<anyhow::Result<_>>().context("cannot open a subscriber")?;
    println!("subscribers {subscribers} sockets signed in and subscribed in {:.1} s", started.elapsed().as_secs_f64());

    let (stop, stopped) = watch::channel(false);
    let (warm, delivered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let listeners: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(listen(socket, stopped.clone(), warm.clone(), delivered.clone())))
        .collect();

    // One order first, until every socket has seen it: then every subscription is live.
    let (first, products) = products.split_first().context("no product to buy")?;
    let placed = drive_checkout(client, base, 1, PATIENCE, std::slice::from_ref(first)).await?;
    if placed.iter().map(|r| r.latencies_us.len()).sum::<usize>() != 1 {
        bail!("the warm-up order was not placed");
    }
    if !reached(&warm, subscribers, PATIENCE).await {
        bail!("only {} of {subscribers} sockets received the warm-up order", warm.load(Ordering::Relaxed));
    }
    let connected_kib = resident_kib(pid).unwrap_or(0);
    let warm_deliveries = delivered.load(Ordering::Relaxed);

    let cpu_before = process_cpu(pid);
    let burst_started = Instant::now();
    let buyers = drive_checkout(client, base, BUYERS, PATIENCE, &products[..burst.min(products.len())]).await?;
    let orders: usize = buyers.iter().map(|r| r.latencies_us.len()).sum();
    let ordering = burst_started.elapsed();
    let expected = warm_deliveries + orders * subscribers;
    let complete = reached(&delivered, expected, PATIENCE).await;
    let window = burst_started.elapsed();
    let cpu = process_cpu(pid).zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
    stop.send_replace(true);

    let mut delays = Vec::with_capacity(orders * subscribers);
    for listener in listeners {
        // The first delivery is the warm-up order's.
        delays.extend(listener.await?.into_iter().skip(1).map(|(_, delay)| delay));
    }
    delays.sort_unstable();
    let at = |p: f64| {
        let index = ((delays.len() as f64 * p).ceil() as usize).saturating_sub(1);
        delays.get(index).map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "burst       {orders} orders placed by {BUYERS} guests in {:.2} s ({:.0} orders/s)",
        ordering.as_secs_f64(),
        orders as f64 / ordering.as_secs_f64().max(1e-9)
    );
    println!(
        "delivered   {} of {} events ({}), all within {:.2} s of the burst's start, {:.0} deliveries/s",
        delays.len(),
        orders * subscribers,
        if complete { "none missing" } else { "some missing" },
        window.as_secs_f64(),
        delays.len() as f64 / window.as_secs_f64().max(1e-9)
    );
    println!(
        "fan-out     commit to delivery p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50),
        at(0.95),
        at(0.99),
        at(1.0)
    );
    println!(
        "memory      server resident {:.1} MiB idle, {:.1} MiB with the sockets ({:.1} KiB a socket)",
        idle_kib as f64 / 1024.0,
        connected_kib as f64 / 1024.0,
        connected_kib.saturating_sub(idle_kib) as f64 / subscribers.max(1) as f64
    );
    if let Some(cpu) = cpu {
        println!(
            "cpu         server {:.2} s of CPU over the {:.2} s window ({:.0} % of one core)",
            cpu.as_secs_f64(),
            window.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / window.as_secs_f64().max(1e-9)
        );
    }
    if !complete {
        bail!("{} deliveries missing", expected.saturating_sub(delivered.load(Ordering::Relaxed)));
    }
    Ok(())
}
