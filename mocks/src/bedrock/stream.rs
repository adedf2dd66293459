//! `InvokeModelWithBidirectionalStream` for Nova Sonic: answers 200 with a
//! streaming event-stream body at once, reads the client's frames on another
//! task (full duplex over HTTP/1.1 chunked bodies), and plays the model: user
//! transcripts, assistant text and paced 24 kHz audio, usage, barge-in, the
//! 8-minute limit and injected faults (the model side is [`super::session`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::errors::AwsError;
use super::events::{InputEvent, parse_input};
use super::eventstream::{FrameDecoder, client_event};
use super::models::{self, Family};
use super::session::Session;
use super::state::{FaultTarget, ModelUsage, Shared, StreamInfo, StreamState};

/// `POST /model/{modelId}/invoke-with-bidirectional-stream`.
pub(crate) async fn invoke(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    body: Body,
) -> Response {
    if let Err(refused) = models::admit(&model_id, Family::Sonic, models::today()) {
        return refused.into_response();
    }
    let (faults, index, session_id, request_id) = {
        let mut state = shared.lock();
        state.count_request(&model_id);
        if state.denied_models.contains(&model_id) {
            return AwsError::access_denied().into_response();
        }
        let faults = state.take_faults(FaultTarget::Stream);
        if let Some(error) = faults.iter().find_map(AwsError::before_stream) {
            return error.into_response();
        }
        let session_id = state.new_id(1);
        let request_id = state.new_id(0);
        state.streams.push(StreamInfo {
            id: session_id.clone(),
            model: model_id.clone(),
            system_prompt: String::new(),
            turns: 0,
            transcripts: Vec::new(),
            script_overruns: 0,
            state: StreamState::Open,
            error: None,
            usage: ModelUsage::default(),
        });
        (faults, state.streams.len() - 1, session_id, request_id)
    };
    let (out, frames) = mpsc::channel::<Bytes>(64);
    let (events_tx, events) = mpsc::channel(64);
    let session_over = shared.shutdown.child_token();
    tokio::spawn(read_input(body, events_tx, session_over.clone()));
    let session = Session::new(shared, index, model_id, session_id, &faults, out);
    tokio::spawn(async move {
        session.run(events).await;
        session_over.cancel();
    });

    let body = Body::from_stream(futures_util::stream::unfold(frames, |mut frames| async {
        let frame = frames.recv().await?;
        Some((Ok::<_, Infallible>(frame), frames))
    }));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}

/// Decodes the request body into input events until it ends or breaks, or
/// the session is over (then the body is dropped and the connection freed).
async fn read_input(
    body: Body,
    events: mpsc::Sender<Result<InputEvent, String>>,
    session_over: CancellationToken,
) {
    let mut data = body.into_data_stream();
    let mut decoder = FrameDecoder::new();
    loop {
        let chunk = tokio::select! {
            () = session_over.cancelled() => return,
            chunk = data.next() => chunk,
        };
        let Some(Ok(chunk)) = chunk else {
            return;
        };
        decoder.push(&chunk);
        loop {
            let parsed = match decoder.next_message() {
                Ok(None) => break,
                Ok(Some(message)) => match client_event(&message) {
                    Ok(None) => continue,
                    Ok(Some(json)) => parse_input(&json).map_err(|e| e.0),
                    Err(e) => Err(format!("Invalid input frame: {e}")),
                },
                Err(e) => Err(format!("Invalid input frame: {e}")),
            };
            let fatal = parsed.is_err();
            if events.send(parsed).await.is_err() || fatal {
                return;
            }
        }
    }
}
