//! Load benchmark of the storefront: the listing, or checkout.
//!
//! Seeds a synthetic catalog through `aeternum seed --products N`, starts the release server
//! (`aeternum serve`) as its own process, and drives one scenario from this process at a fixed
//! concurrency for a bounded time:
//!
//! - `listing`: the storefront listing query (24 products with vendor, category and first
//!   image, walking pages by cursor);
//! - `checkout`: a guest opens a cart, adds a product and checks out (three requests per order),
//!   spreading over the catalog's first products;
//! - `search`: hybrid search (24 hits with price) over a fixed list of shopper queries, after
//!   `aeternum reindex` built the vector index: vector recall of the approximate index, latency
//!   at one and eight clients for first-seen, novel and repeated queries, a burst of first-seen
//!   queries, then the load; the query's embedding time is reported apart;
//! - `dashboard`: staff reading the whole admin dashboard over an order history seeded with
//!   `aeternum seed --orders`;
//! - `subscriptions`: thousands of sockets following `orderPlaced`, a burst of orders, and the
//!   delay from each event's commit to each subscriber, with the server's memory and CPU.
//!
//! It prints throughput (requests or orders per second), latency percentiles and the server's
//! peak memory. Run it with `bench/run`; it is not part of the test suite.

// Printing its figures is what this program is for.
#![allow(clippy::print_stdout)]

mod dashboard;
mod pgbench;
mod search;
mod subscriptions;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const LISTING: &str = "query Listing($after: String) {
  products(first: 24, after: $after) {
    edges { node {
      id title slug price { amount currencyCode }
      vendor { name slug } category { name slug } images(first: 1) { url altText }
    } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Pages a simulated shopper reads before starting over.
const PAGES_PER_VISIT: usize = 10;

#[derive(Parser, Debug)]
#[command(about = "Load benchmark of the Aeternum storefront listing")]
struct Args {
    /// Database to seed and serve (a fresh one: seeding adds products).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Products to seed before the run; 0 to use the database as it is (seeded by an earlier
    /// run, its staff account included).
    #[arg(long, default_value_t = 100_000)]
    products: u64,
    /// Seed products with a paragraph of description each (`aeternum seed --paragraphs`), so
    /// the search scenario's `reindex` embeds every product instead of 480 shared texts.
    #[arg(long)]
    paragraphs: bool,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// Upper bound on measured requests, whatever the time.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: usize,
    /// The server binary.
    #[arg(long, default_value = "target/release/aeternum")]
    server: PathBuf,
    /// What the clients do.
    #[arg(long, value_enum, default_value_t = Scenario::Listing)]
    scenario: Scenario,
    /// Orders of history to seed for the dashboard scenario (over 180 days); 0 to use the
    /// database's orders.
    #[arg(long, default_value_t = 100_000)]
    orders: u64,
    /// Average lines per seeded order.
    #[arg(long, default_value_t = 10)]
    lines_per_order: u32,
    /// Sockets following `orderPlaced` in the subscriptions scenario.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Send the listing and search queries by their SHA-256 (automatic persisted queries): the
    /// first call of each client registers the query, the rest send only the hash.
    #[arg(long)]
    persisted: bool,
    /// The dashboard scenario's period preset (`LAST_7_DAYS`, `LAST_30_DAYS`, `LAST_90_DAYS`).
    #[arg(long, default_value = "LAST_90_DAYS")]
    period: String,
    /// Orders placed in the subscriptions scenario's burst.
    #[arg(long, default_value_t = 100)]
    burst: usize,
    /// Seconds of each line of the search scenario's latency profile (one client and eight,
    /// first-seen and repeated queries), run before the measured load.
    #[arg(long, default_value_t = 5)]
    profile_seconds: u64,
    /// Cost limits: off, or charged to buckets in the server's process or in Redis (buckets
    /// too large to refuse anything, so the figures are the limiter's overhead alone).
    #[arg(long, value_enum, default_value_t = Limits::Off)]
    limits: Limits,
    /// The Redis of `--limits redis`.
    #[arg(long, env = "AETERNUM_TEST_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
}

/// Where the server keeps its cost buckets.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Limits {
    /// Not charged (all the load comes from one address, whose real bucket would throttle it).
    Off,
    /// In the server's process.
    InProcess,
    /// In Redis.
    Redis,
}

/// What the simulated clients do.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// Read the storefront listing page after page.
    Listing,
    /// Open a cart, add one product, check out.
    Checkout,
    /// Hybrid search with shopper queries.
    Search,
    /// Staff reading the whole admin dashboard.
    Dashboard,
    /// Sockets following placed orders while a burst of orders comes in.
    Subscriptions,
}

/// How much load: clients at once, for how long, at most how many requests in all, and whether
/// queries are sent by their hash (automatic persisted queries).
#[derive(Clone, Copy)]
struct Load {
    concurrency: usize,
    duration: Duration,
    max_requests: usize,
    persisted: bool,
}

const OPEN_CART: &str = "mutation { openCart { cart { id } token } }";
const ADD: &str = "mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p) { itemCount } }";
const CHECKOUT: &str = "mutation($c: ID!, $k: String!) { checkout(cartId: $c, idempotencyKey: $k,
  email: \"bench@example.com\",
  shippingAddress: { name: \"Bench\", line1: \"1 Load St\", city: \"Paris\", postalCode: \"75001\", country: \"FR\" })
  { id total { amount } } }";

/// Products the checkout scenario buys from (the first pages of the listing).
const CHECKOUT_PRODUCTS: usize = 12_000;

/// The staff account the admin scenarios sign in as.
const STAFF_EMAIL: &str = "bench-staff@example.com";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    seed(&args).await?;

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let sockets = (args.subscribers + 100).to_string();
    let mut command = Command::new(&args.server);
    match args.limits {
        // All the load comes from one address, which one address's cost bucket would throttle.
        Limits::Off => command.env("AETERNUM_LIMITS__ENABLED", "false"),
        Limits::InProcess | Limits::Redis => command
            .env("AETERNUM_LIMITS__ENABLED", "true")
            .env("AETERNUM_LIMITS__ANONYMOUS__CAPACITY", "4000000000")
            .env("AETERNUM_LIMITS__ANONYMOUS__RESTORE_PER_SECOND", "1000000"),
    };
    if args.limits == Limits::Redis {
        let prefix = format!("aeternum:bench:{}:", std::process::id());
        command
            .env("AETERNUM_LIMITS__STORE__KIND", "redis")
            .env("AETERNUM_LIMITS__STORE__URL", &args.redis_url)
            .env("AETERNUM_LIMITS__STORE__KEY_PREFIX", prefix);
    }
    println!("limits      {:?}", args.limits);
    let mut server = command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &args.database_url)
        .env("AETERNUM_LOG__FILTER", "warn")
        // Every simulated shopper comes from this one loopback address; the per-address cap on
        // unpaid orders would otherwise stop the checkout scenario after a handful of orders,
        // and the per-address cap on sockets the subscriptions scenario.
        .env("AETERNUM_ORDERS__MAX_UNPAID_ORDERS_PER_IP", "1000000000")
        .env("AETERNUM_WEBSOCKET__MAX_CONNECTIONS", &sockets)
        .env("AETERNUM_WEBSOCKET__MAX_CONNECTIONS_PER_IP", &sockets)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", args.server.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    wait_until_ready(&client, &base).await?;
    let pid = server.id().context("the server exited at once")?;

    let outcome = match args.scenario {
        Scenario::Subscriptions => {
            let token = staff_token(&client, &base).await?;
            let products = product_ids(&client, &base, args.burst + 1).await?;
            subscriptions::run(&client, &base, pid, &token, (args.subscribers, args.burst), &products)
                .await
                .map(|()| None)
        }
        _ => load_scenario(&args, &client, &base).await.map(Some),
    };
    let peak = resident_status_kib(pid, "VmHWM:");
    stop(&mut server).await;
    match peak {
        Some(kib) => println!("memory      server peak RSS {:.1} MiB", kib as f64 / 1024.0),
        None => println!("memory      server peak RSS unavailable (needs /proc)"),
    }
    let per_second = outcome?;
    // The same statements from PostgreSQL alone, with the server stopped so it takes no core.
    if let Some(per_second) = per_second
        && args.scenario == Scenario::Listing
        && args.database_url.starts_with("postgres")
    {
        let script = std::env::temp_dir().join(format!("aeternum-listing-{}.sql", std::process::id()));
        let compared = pgbench::compare(&args.database_url, &script, args.seconds, per_second).await;
        let _ = std::fs::remove_file(&script);
        compared?;
    }
    Ok(())
}

/// Seeds what the scenario reads: the catalog, its search index, an order history and a staff
/// account, as the arguments ask.
async fn seed(args: &Args) -> anyhow::Result<()> {
    if args.products > 0 {
        let started = Instant::now();
        let count = args.products.to_string();
        let mut seed = vec!["seed", "--products", &count];
        if args.paragraphs {
            seed.push("--paragraphs");
        }
        run_cli(args, &seed, &[]).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "seed        {} products in {seconds:.1} s ({:.0} products/s)",
            args.products,
            args.products as f64 / seconds
        );
    }
    if args.scenario == Scenario::Search && args.products > 0 {
        let started = Instant::now();
        run_cli(args, &["reindex"], &[]).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "reindex     vector index built in {seconds:.1} s ({:.1} products/s)",
            args.products as f64 / seconds.max(1e-9)
        );
        let mut recall = vec!["vector-recall"];
        for query in search::QUERIES {
            recall.extend(["--query", query]);
        }
        run_cli(args, &recall, &[]).await?;
    }
    if args.scenario == Scenario::Dashboard && args.orders > 0 {
        let started = Instant::now();
        let (orders, lines, days) =
            (args.orders.to_string(), args.lines_per_order.to_string(), dashboard::HISTORY_DAYS.to_string());
        run_cli(args, &["seed", "--orders", &orders, "--lines-per-order", &lines, "--days", &days], &[]).await?;
        println!(
            "history     {} orders of about {} lines over {days} days in {:.1} s",
            args.orders,
            args.lines_per_order,
            started.elapsed().as_secs_f64()
        );
    }
    // A fresh database gets the staff account; one used as it is has it from its first run.
    if args.products > 0 && matches!(args.scenario, Scenario::Dashboard | Scenario::Subscriptions) {
        let create = ["user", "create", "--email", STAFF_EMAIL, "--role", "staff"];
        run_cli(args, &create, &[("AETERNUM_NEW_USER_PASSWORD", STAFF_PASSWORD)]).await?;
    }
    Ok(())
}

/// The bench staff account's password: a local, throw-away account of a throw-away database.
const STAFF_PASSWORD: &str = "quiet-harbour-lantern-2026";

/// An access token of the bench staff account.
async fn staff_token(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let query = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken } }";
    let answer =
        call(client, &format!("{base}/graphql"), query, json!({ "e": STAFF_EMAIL, "p": STAFF_PASSWORD }), None)
            .await
            .context("signIn failed")?;
    answer["data"]["signIn"]["accessToken"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("signIn was refused: {answer}"))
}

/// The request-driven scenarios: a warm-up, then the measured run, then its figures. Returns the
/// measured requests (or orders, dashboards, searches) per second.
async fn load_scenario(args: &Args, client: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
    let products = match args.scenario {
        Scenario::Checkout => product_ids(client, base, CHECKOUT_PRODUCTS).await?,
        _ => Vec::new(),
    };
    if args.scenario == Scenario::Search {
        search::profile(client, base, args.profile_seconds).await?;
        search::burst(client, base).await?;
    }
    let token = match args.scenario {
        Scenario::Dashboard => {
            let token = staff_token(client, base).await?;
            dashboard::describe(client, base, &token, &args.period).await?;
            token
        }
        _ => String::new(),
    };
    let (warmup_products, products) = products.split_at(products.len() / 10);
    let warmup = Load {
        concurrency: args.concurrency,
        duration: Duration::from_secs(args.warmup_seconds),
        max_requests: usize::MAX,
        persisted: args.persisted,
    };
    let measured = Load { duration: Duration::from_secs(args.seconds), max_requests: args.max_requests, ..warmup };
    let run = async |load: Load, products: &[String]| match args.scenario {
        Scenario::Listing => drive(client, base, load).await,
        Scenario::Search => search::drive(client, base, load, search::Queries::Repeated).await,
        Scenario::Dashboard => dashboard::drive(client, base, load, &token, &args.period).await,
        Scenario::Checkout | Scenario::Subscriptions => {
            drive_checkout(client, base, load.concurrency, load.duration, products).await
        }
    };
    run(warmup, warmup_products).await?;
    let started = Instant::now();
    let results = run(measured, products).await?;
    let elapsed = started.elapsed().as_secs_f64();

    let mut latencies: Vec<f64> =
        results.iter().flat_map(|r| r.latencies_us.iter().map(|us| *us as f64 / 1e3)).collect();
    let errors: usize = results.iter().map(|r| r.errors).sum();
    let sold_out: usize = results.iter().map(|r| r.sold_out).sum();
    latencies.sort_by(f64::total_cmp);
    let unit = match args.scenario {
        Scenario::Listing => {
            let sent = if args.persisted { ", sent by its hash" } else { "" };
            println!("query       storefront listing: 24 products with vendor, category, first image{sent}");
            "requests"
        }
        Scenario::Checkout | Scenario::Subscriptions => {
            println!("scenario    guest checkout: openCart + addToCart + checkout; latency is the checkout call");
            "orders"
        }
        Scenario::Dashboard => {
            println!("query       the whole admin dashboard, {} and the period before, weekly series", args.period);
            "dashboards"
        }
        Scenario::Search => {
            println!(
                "query       hybrid search, 24 hits with price, {} shopper queries in turn",
                search::QUERIES.len()
            );
            let mut embedding: Vec<f64> = results.iter().flat_map(|r| r.embedding_ms.iter().copied()).collect();
            embedding.sort_by(f64::total_cmp);
            println!(
                "embedding   {} queries embedded under load (the rest were cached): p50 {:.2} ms, p99 {:.2} ms",
                embedding.len(),
                quantile(&embedding, 0.50),
                quantile(&embedding, 0.99)
            );
            let degraded: usize = results.iter().map(|r| r.sold_out).sum();
            println!("degraded    {degraded} responses");
            "searches"
        }
    };
    println!(
        "load        {} clients for {elapsed:.1} s, {} {unit}, {errors} errors, {sold_out} sold out",
        args.concurrency,
        latencies.len()
    );
    let per_second = latencies.len() as f64 / elapsed;
    println!("throughput  {per_second:.1} {unit}/s");
    println!(
        "latency     p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        quantile(&latencies, 0.50),
        quantile(&latencies, 0.95),
        quantile(&latencies, 0.99),
        quantile(&latencies, 1.0)
    );
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(per_second)
}

async fn run_cli(args: &Args, cli_args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    let status = Command::new(&args.server)
        .args(cli_args)
        .env("DATABASE_URL", &args.database_url)
        .env("AETERNUM_LOG__FILTER", "warn")
        .envs(env.iter().copied())
        .status()
        .await
        .with_context(|| format!("cannot run {}", args.server.display()))?;
    if !status.success() {
        bail!("`aeternum {}` failed", cli_args.join(" "));
    }
    Ok(())
}

async fn wait_until_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become ready within 30 s")
}

#[derive(Default)]
struct ClientResult {
    latencies_us: Vec<u64>,
    errors: usize,
    /// Checkouts refused with OUT_OF_STOCK (another client bought the last unit); in the search
    /// scenario, degraded responses.
    sold_out: usize,
    /// Query embedding times reported by searches, in milliseconds.
    embedding_ms: Vec<f64>,
}

/// The IDs of the listing's first `count` products.
async fn product_ids(client: &reqwest::Client, base: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    let mut after = Value::Null;
    while ids.len() < count {
        let body = json!({
            "query": "query($a: String) { products(first: 100, after: $a, filter: { available: true }) { edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            "variables": { "a": after },
        });
        let page: Value = client.post(format!("{base}/graphql")).json(&body).send().await?.json().await?;
        let products = &page["data"]["products"];
        let edges = products["edges"].as_array().context("the listing failed")?;
        ids.extend(edges.iter().filter_map(|e| e["node"]["id"].as_str().map(str::to_owned)));
        if products["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = products["pageInfo"]["endCursor"].clone();
    }
    ids.truncate(count);
    Ok(ids)
}

/// POSTs `body` to `url`, with `header` when given; `None` when it failed.
async fn post(client: &reqwest::Client, url: &str, body: &Value, header: Option<(&str, &str)>) -> Option<Value> {
    let mut request = client.post(url).json(body);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json::<Value>().await.ok()
}

/// Sends one GraphQL request, with `header` when given; `None` when it failed.
async fn call(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
    header: Option<(&str, &str)>,
) -> Option<Value> {
    post(client, url, &json!({ "query": query, "variables": variables }), header).await
}

/// Sends one GraphQL request by the query's hash, registering the query when the server does not
/// know it yet (what Apollo's persisted-queries link does); `None` when it failed.
async fn call_persisted(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
    header: Option<(&str, &str)>,
) -> Option<Value> {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(query.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let answer = post(client, url, &json!({ "variables": variables, "extensions": extensions }), header).await?;
    if answer["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND" {
        let body = json!({ "query": query, "variables": variables, "extensions": extensions });
        return post(client, url, &body, header).await;
    }
    Some(answer)
}

/// Runs `concurrency` guests buying from `products` until `duration` passes or the products
/// run out. Each client walks its own slice of the products, so they rarely compete.
async fn drive_checkout(
    client: &reqwest::Client,
    base: &str,
    concurrency: usize,
    duration: Duration,
    products: &[String],
) -> anyhow::Result<Vec<ClientResult>> {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for n in 0..concurrency {
        let (client, url) = (client.clone(), format!("{base}/graphql"));
        let mine: Vec<String> = products.iter().skip(n).step_by(concurrency.max(1)).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut result = ClientResult { latencies_us: Vec::with_capacity(1024), ..ClientResult::default() };
            for (i, product) in mine.iter().enumerate() {
                if Instant::now() >= deadline {
                    break;
                }
                let Some(opened) = call(&client, &url, OPEN_CART, json!({}), None).await else {
                    result.errors += 1;
                    continue;
                };
                let cart = opened["data"]["openCart"]["cart"]["id"].clone();
                let token = opened["data"]["openCart"]["token"].as_str().unwrap_or_default().to_owned();
                let added =
                    call(&client, &url, ADD, json!({ "c": cart, "p": product }), Some(("x-cart-token", &token))).await;
                if added.as_ref().is_none_or(|a| a.get("errors").is_some()) {
                    result.sold_out += 1;
                    continue;
                }
                let started = Instant::now();
                let key = format!("bench-{n}-{i}-{}", std::process::id());
                let placed =
                    call(&client, &url, CHECKOUT, json!({ "c": cart, "k": key }), Some(("x-cart-token", &token))).await;
                let elapsed = started.elapsed().as_micros() as u64;
                match placed {
                    Some(p) if p["data"]["checkout"]["id"].is_string() => result.latencies_us.push(elapsed),
                    Some(p) if p["errors"][0]["extensions"]["code"] == "OUT_OF_STOCK" => result.sold_out += 1,
                    _ => result.errors += 1,
                }
            }
            result
        }));
    }
    let mut results = Vec::with_capacity(concurrency);
    for task in tasks {
        results.push(task.await?);
    }
    Ok(results)
}

/// Runs `load.concurrency` clients, each sending `query` (with `header` when given) with the
/// variables `next` makes from its own state (started by `start` from the client's number),
/// until `load.duration` passes or `load.max_requests` are made in all. `seen` reads each
/// error-free answer; failed requests and answers with errors count as errors.
#[allow(clippy::too_many_arguments)]
async fn drive_clients<S: Send + 'static>(
    client: &reqwest::Client,
    base: &str,
    load: Load,
    query: &'static str,
    header: Option<(&'static str, String)>,
    start: impl Fn(usize) -> S,
    next: fn(&mut S) -> Value,
    seen: fn(&mut S, &Value, &mut ClientResult),
) -> anyhow::Result<Vec<ClientResult>> {
    let deadline = Instant::now() + load.duration;
    let per_client = load.max_requests.div_ceil(load.concurrency.max(1));
    let mut tasks = Vec::with_capacity(load.concurrency);
    for n in 0..load.concurrency {
        let (client, url, header) = (client.clone(), format!("{base}/graphql"), header.clone());
        let mut state = start(n);
        tasks.push(tokio::spawn(async move {
            let mut result = ClientResult { latencies_us: Vec::with_capacity(4096), ..ClientResult::default() };
            while Instant::now() < deadline && result.latencies_us.len() < per_client {
                let started = Instant::now();
                let header = header.as_ref().map(|(name, value)| (*name, value.as_str()));
                let answer = if load.persisted {
                    call_persisted(&client, &url, query, next(&mut state), header).await
                } else {
                    call(&client, &url, query, next(&mut state), header).await
                };
                result.latencies_us.push(started.elapsed().as_micros() as u64);
                match answer.filter(|v| v.get("errors").is_none()) {
                    Some(data) => seen(&mut state, &data["data"], &mut result),
                    None => result.errors += 1,
                }
            }
            result
        }));
    }
    let mut results = Vec::with_capacity(load.concurrency);
    for task in tasks {
        results.push(task.await?);
    }
    Ok(results)
}

/// Shoppers walking the listing page by page, `PAGES_PER_VISIT` pages a visit.
async fn drive(client: &reqwest::Client, base: &str, load: Load) -> anyhow::Result<Vec<ClientResult>> {
    drive_clients(
        client,
        base,
        load,
        LISTING,
        None,
        |_| (Value::Null, 0),
        |(after, _)| json!({ "after": after }),
        |(after, page), data, _| {
            let info = &data["products"]["pageInfo"];
            *page += 1;
            (*after, *page) = if info["hasNextPage"] == json!(true) && *page < PAGES_PER_VISIT {
                (info["endCursor"].clone(), *page)
            } else {
                (Value::Null, 0)
            };
        },
    )
    .await
}

/// The `q` quantile of `sorted` (ascending), 0 when it is empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
}

/// A memory figure of the process `pid` from `/proc/<pid>/status` (`VmHWM:`, `VmRSS:`), in KiB.
fn resident_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The process's resident memory now, in KiB.
fn resident_kib(pid: u32) -> Option<u64> {
    resident_status_kib(pid, "VmRSS:")
}

/// CPU time the process `pid` has used so far, user and system (`/proc/<pid>/stat`, in the
/// kernel's 100 Hz clock ticks).
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

async fn stop(server: &mut Child) {
    if let Some(pid) = server.id() {
        // SIGTERM, so the server shuts down gracefully; the kill below is a fallback.
        let _ = Command::new("kill").arg(pid.to_string()).status().await;
    }
    if tokio::time::timeout(Duration::from_secs(10), server.wait()).await.is_err() {
        let _ = server.kill().await;
    }
}
