//! The live feed's body: `text/event-stream`, one `data: {json}` event per request. A task per
//! reader copies from the journal's broadcast into a small channel the body drains; a reader that
//! falls behind is told so and cut off, so the proxy never waits on one.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::{broadcast, mpsc};

use super::journal::{Entry, Journal};
use std::sync::Arc;

/// A comment this often keeps proxies from closing an idle feed and finds readers that left.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Events queued for one reader's socket before the copier waits on it (the broadcast keeps more).
const SOCKET_BACKLOG: usize = 16;

/// The endless body of `/api/deliveries/stream`; it ends when its copier does.
pub struct Feed {
    events: mpsc::Receiver<Bytes>,
}

impl Body for Feed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.events
            .poll_recv(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// Subscribes now, so every request from here on is sent, and starts the copier.
pub fn open(journal: &Journal) -> Feed {
    let (entries, watching) = journal.subscribe();
    let (sender, events) = mpsc::channel(SOCKET_BACKLOG);
    tokio::spawn(async move {
        copy(entries, sender).await;
        drop(watching);
    });
    Feed { events }
}

/// One SSE event: `data:` and the entry's JSON, which serde_json writes on one line.
fn event(entry: &Entry) -> Bytes {
    Bytes::from(format!("data: {}\n\n", entry.to_json()))
}

async fn copy(mut entries: broadcast::Receiver<Arc<Entry>>, sender: mpsc::Sender<Bytes>) {
    if sender
        .send(Bytes::from_static(b": hookguard live feed\n\n"))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let next = tokio::select! {
            next = entries.recv() => next,
            () = tokio::time::sleep(KEEPALIVE) => {
                if sender.send(Bytes::from_static(b": keepalive\n\n")).await.is_err() {
                    return;
                }
                continue;
            }
            () = sender.closed() => return,
        };
        let bytes = match next {
            Ok(entry) => event(&entry),
            // Behind by more than the broadcast keeps: say so and end, so the reader reloads.
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let _ = sender
                    .send(Bytes::from(format!("event: lagged\ndata: {missed}\n\n")))
                    .await;
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if sender.send(bytes).await.is_err() {
            return;
        }
    }
}
