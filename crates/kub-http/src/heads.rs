//! Request heads: each one's own deadline, and their size.
//!
//! hyper's one header timer starts when a connection opens and again at the end of each
//! answer, and stops when the next head is complete: it times the keep-alive wait and the head
//! together. Set to `IDLE_TIMEOUT` (as [`crate::accept`] sets it, so idle connections last that
//! long), it would give every head after the first 75 s to arrive, byte by byte. So a
//! [`HeadClock`] watches each connection: a head's `HEADER_READ_TIMEOUT` runs from its first
//! byte (a new connection's first head: from the accept), or from the end of the previous answer
//! when its bytes came before that (pipelined), and the connection is closed when it runs out.
//!
//! What it sees: bytes read from the socket ([`ClockedStream`]), a head complete (hyper calls the
//! service), the request body read to its end ([`ClockedBody`]) and the answer done (hyper drops
//! its body, [`AnsweredBody`]). Bytes that come while an answer is under way but after its
//! request's body can only be the next head.
//!
//! Sizes: [`oversized`] measures a complete head against `MAX_HEADER_BYTES` and `MAX_HEADERS`
//! (431 JSON); hyper itself buffers at most twice those ([`hard_limits`]) and answers a bare
//! 431 past them.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::{
    body::Body,
    http::{Request, StatusCode},
    response::Response,
};
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Notify,
    time::Instant,
};

use crate::{errors::error_response, settings::ConnectionSettings};

/// Where a connection is between two heads.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a head; its clock runs from `since` once a byte of it came.
    Head { since: Option<Instant> },
    /// A request is being answered. `next_head_begun`: bytes came after its body was read.
    Answering {
        body_read: bool,
        next_head_begun: bool,
    },
}

/// One connection's head deadline.
pub struct HeadClock {
    timeout: Duration,
    phase: Mutex<Phase>,
    deadline_set: Notify,
}

impl HeadClock {
    /// A new connection: its first head's clock runs from now.
    pub fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            timeout,
            phase: Mutex::new(Phase::Head {
                since: Some(Instant::now()),
            }),
            deadline_set: Notify::new(),
        })
    }

    /// When the head being read must be complete, if one is being read.
    pub fn deadline(&self) -> Option<Instant> {
        match *self.lock() {
            Phase::Head { since } => since.map(|since| since + self.timeout),
            Phase::Answering { .. } => None,
        }
    }

    /// Resolves when a deadline may have been set since the last call.
    pub async fn deadline_changed(&self) {
        self.deadline_set.notified().await;
    }

    fn bytes_arrived(&self) {
        let mut phase = self.lock();
        match &mut *phase {
            Phase::Head {
                since: since @ None,
            } => {
                *since = Some(Instant::now());
                drop(phase);
                self.deadline_set.notify_one();
            }
            Phase::Answering {
                body_read: true,
                next_head_begun,
            } => *next_head_begun = true,
            _ => {}
        }
    }

    /// hyper has a complete head; `body_read` when the request has no body.
    fn head_complete(&self, body_read: bool) {
        *self.lock() = Phase::Answering {
            body_read,
            next_head_begun: false,
        };
    }

    fn body_read(&self) {
        if let Phase::Answering { body_read, .. } = &mut *self.lock() {
            *body_read = true;
        }
    }

    fn answered(&self) {
        let mut phase = self.lock();
        if let Phase::Answering {
            next_head_begun, ..
        } = *phase
        {
            let since = next_head_begun.then(Instant::now);
            *phase = Phase::Head { since };
            drop(phase);
            if since.is_some() {
                self.deadline_set.notify_one();
            }
        }
    }

    /// The request hyper hands over, its head complete: its body tells the clock when it is
    /// read, and the answer, given to [`Self::answer`], when it is sent.
    pub fn request(self: &Arc<Self>, request: Request<Incoming>) -> Request<ClockedBody> {
        self.head_complete(request.body().is_end_stream());
        let clock = Some(self.clone());
        request.map(|body| ClockedBody { body, clock })
    }

    pub fn answer(self: &Arc<Self>, response: Response) -> Response<AnsweredBody> {
        let answered = Answered(self.clone());
        response.map(|body| AnsweredBody {
            body,
            _answered: answered,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The socket, telling the clock when bytes arrive.
pub struct ClockedStream {
    stream: TcpStream,
    clock: Arc<HeadClock>,
}

impl ClockedStream {
    pub fn new(stream: TcpStream, clock: Arc<HeadClock>) -> Self {
        Self { stream, clock }
    }
}

impl AsyncRead for ClockedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.clock.bytes_arrived();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ClockedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A request body that tells the clock when it has been read to its end.
pub struct ClockedBody {
    body: Incoming,
    clock: Option<Arc<HeadClock>>,
}

impl HttpBody for ClockedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        if (frame.is_none() || self.body.is_end_stream())
            && let Some(clock) = self.clock.take()
        {
            clock.body_read();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An answer's body; hyper drops it when the answer is sent (or the connection has gone).
pub struct AnsweredBody {
    body: Body,
    _answered: Answered,
}

struct Answered(Arc<HeadClock>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.answered();
    }
}

impl HttpBody for AnsweredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// hyper's own limits, `(buffer bytes, header lines)`: twice ours, so that a head a little
/// over ours is read whole and answered in JSON by [`oversized`], while none can make a
/// connection buffer more than this.
pub fn hard_limits(settings: &ConnectionSettings) -> (usize, usize) {
    (2 * settings.max_header_bytes, 2 * settings.max_headers)
}

/// The 431 JSON answer for a complete head over `MAX_HEADER_BYTES` or `MAX_HEADERS`.
pub fn oversized<B>(request: &Request<B>, settings: &ConnectionSettings) -> Option<Response> {
    let headers = request.headers();
    let message = if headers.len() > settings.max_headers {
        format!(
            "The request has {} header lines, more than the {} allowed.",
            headers.len(),
            settings.max_headers
        )
    } else if head_bytes(request) > settings.max_header_bytes {
        format!(
            "The request head (request line and headers) is over {} bytes.",
            settings.max_header_bytes
        )
    } else {
        return None;
    };
    Some(error_response(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        message,
    ))
}

/// The head's size as sent: `METHOD target HTTP/1.1\r\n`, `name: value\r\n` each, `\r\n`.
fn head_bytes<B>(request: &Request<B>) -> usize {
    let uri = request.uri();
    let target = uri
        .path_and_query()
        .map_or(1, |target| target.as_str().len())
        + uri.scheme_str().map_or(0, |scheme| scheme.len() + 3)
        + uri
            .authority()
            .map_or(0, |authority| authority.as_str().len());
    let request_line = request.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let header_lines: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    request_line + header_lines + 2
}
