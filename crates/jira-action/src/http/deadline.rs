//! The request body's deadline: a tool call's body must have arrived
//! within `limits.request_timeout` of the call, or reading it fails and
//! the call is answered `408 request_timeout`. Without it a caller that
//! sends headers and then stalls would hold a concurrency slot forever.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::app::AppState;

/// Gives the request's body a deadline of `limits.request_timeout`
/// from now. Placed outside the concurrency cap, so the deadline covers
/// all the time a slot is held.
pub(super) async fn body_deadline(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let deadline = Instant::now() + state.config().request_timeout();
    let mut request = request;
    // The core's deadline is the same instant: the whole call, body
    // included, within `limits.request_timeout`.
    request.extensions_mut().insert(CallDeadline(deadline));
    let request = request.map(|body| {
        Body::new(Deadline {
            body,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
        })
    });
    next.run(request).await
}

/// When a call must be answered by, set as it arrives.
#[derive(Clone, Copy, Debug)]
pub struct CallDeadline(pub Instant);

/// Why reading the body failed: it had not all arrived by the deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the request timeout")]
pub struct BodyTimedOut;

/// Whether `error` (an extractor's rejection, say) comes from a body that
/// missed its deadline.
pub fn body_timed_out(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        cause = error.source();
    }
    false
}

struct Deadline {
    body: Body,
    timer: Pin<Box<Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use std::time::Duration;

    /// Sends one frame, then nothing ever again.
    struct Stalls(bool);

    impl http_body::Body for Stalls {
        type Data = Bytes;
        type Error = axum::BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Pending
            } else {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{\"pid\"")))))
            }
        }
    }

    fn with_deadline(body: Body, after: Duration) -> Body {
        Body::new(Deadline {
            body,
            timer: Box::pin(tokio::time::sleep(after)),
        })
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_fails_at_the_deadline() {
        let stalled = with_deadline(Body::new(Stalls(false)), Duration::from_millis(50));
        let err = to_bytes(stalled, 1024).await.expect_err("times out");
        assert!(body_timed_out(&err), "recognised: {err}");
        let whole = with_deadline(Body::from("{}"), Duration::from_secs(60));
        assert_eq!(to_bytes(whole, 1024).await.expect("whole body"), "{}");
        assert!(!body_timed_out(&std::io::Error::other("another failure")));
    }
}
