//! A time limit on reading a request, so slow clients cannot hold connections open.
//!
//! Once a connection receives the first byte of a request, the server must have started its
//! answer within `request_read_timeout`; a client that trickles its headers or body (slowloris)
//! is cut off when that time runs out. The clock stops at the first byte the server writes and
//! starts again with the next request. After a `101 Switching Protocols` answer the connection
//! is a WebSocket, with its own limits, and the clock is switched off. Idle keep-alive
//! connections are closed by the server's idle timeout (see `startup`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps every accepted connection in a [`ReadDeadline`].
pub struct DeadlineAcceptor<A> {
    inner: A,
    timeout: Duration,
}

impl<A> DeadlineAcceptor<A> {
    /// Connections of `inner` must be read within `timeout` per request.
    pub fn new(inner: A, timeout: Duration) -> Self {
        Self { inner, timeout }
    }
}

impl<A: Acceptor> Acceptor for DeadlineAcceptor<A> {
    type Io = ReadDeadline<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((ReadDeadline { inner: io, timeout: self.timeout, deadline: None, upgraded: false }, local, remote, scheme))
    }
}

/// A connection whose requests must arrive within a time limit.
pub struct ReadDeadline<T> {
    inner: T,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
    upgraded: bool,
}

impl<T: AsyncRead + Unpin> AsyncRead for ReadDeadline<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the request was not read in time")));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if !this.upgraded && this.deadline.is_none() && buf.filled().len() > before {
            let mut deadline = Box::pin(tokio::time::sleep_until(Instant::now() + this.timeout));
            // Registers the timer with this task, so a client that then goes silent is woken up.
            let _ = deadline.as_mut().poll(cx);
            this.deadline = Some(deadline);
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ReadDeadline<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !data.is_empty() {
            this.deadline = None;
            if data.starts_with(b"HTTP/1.1 101 ") {
                this.upgraded = true;
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
