//! The Nova Sonic stream over HTTP/2 with prior knowledge (what a backend
//! gets from a custom h2c connector) instead of the SDK's default HTTP/1.1:
//! the same frames, full duplex.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mocks::bedrock::eventstream::{
    FrameDecoder, ServerFrame, encode_client_end, encode_client_event, server_frame,
};
use mocks::bedrock::{BedrockConfig, BedrockMock};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn event_name(event: &Value) -> String {
    event["event"]
        .as_object()
        .and_then(|map| map.keys().next().cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_stream_works_over_h2c_prior_knowledge() {
    let mock = BedrockMock::start(BedrockConfig {
        time_scale: 20.0,
        ..BedrockConfig::default()
    })
    .await
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("an HTTP/2 connection");
    tokio::spawn(connection);

    let (input, mut frames) = mpsc::unbounded_channel::<Result<Frame<Bytes>, Infallible>>();
    let send = |event: Value| {
        input
            .send(Ok(Frame::data(encode_client_event(&event))))
            .unwrap();
    };
    send(json!({"event": {"sessionStart": {"inferenceConfiguration": {"maxTokens": 512}}}}));
    send(json!({"event": {"promptStart": {"promptName": "p"}}}));
    for (name, role, interactive, text) in [
        ("sys", "SYSTEM", false, "- Sarah is your daughter."),
        ("q", "USER", true, "Who is Sarah?"),
    ] {
        send(
            json!({"event": {"contentStart": {"promptName": "p", "contentName": name,
            "type": "TEXT", "role": role, "interactive": interactive}}}),
        );
        send(
            json!({"event": {"textInput": {"promptName": "p", "contentName": name, "content": text}}}),
        );
        send(json!({"event": {"contentEnd": {"promptName": "p", "contentName": name}}}));
    }
    let body = StreamBody::new(futures_util::stream::poll_fn(move |cx| {
        frames.poll_recv(cx)
    }));
    let request = hyper::Request::post(format!(
        "http://{}/model/amazon.nova-2-sonic-v1%3A0/invoke-with-bidirectional-stream",
        mock.addr()
    ))
    .header("content-type", "application/vnd.amazon.eventstream")
    .body(body)
    .unwrap();
    let response = sender.send_request(request).await.expect("a response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), hyper::Version::HTTP_2);

    let mut body = response.into_body();
    let mut decoder = FrameDecoder::new();
    let mut events = Vec::new();
    let mut input = Some(input);
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.expect("no transport error").into_data() else {
            continue;
        };
        decoder.push(&data);
        while let Some(message) = decoder.next_message().unwrap() {
            let ServerFrame::Event(event) = server_frame(&message).unwrap() else {
                panic!("unexpected exception");
            };
            let name = event_name(&event);
            events.push(event);
            // The answer arrived while the request body was still open: end the session now.
            if name == "usageEvent"
                && let Some(input) = input.take()
            {
                let end = |event: Value| input.send(Ok(Frame::data(encode_client_event(&event))));
                end(json!({"event": {"promptEnd": {"promptName": "p"}}})).unwrap();
                end(json!({"event": {"sessionEnd": {}}})).unwrap();
                input.send(Ok(Frame::data(encode_client_end()))).unwrap();
            }
        }
    }
    let answers: Vec<&str> = events
        .iter()
        .filter(|e| {
            event_name(e) == "textOutput" && e["event"]["textOutput"]["role"] == "ASSISTANT"
        })
        .map(|e| e["event"]["textOutput"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        answers,
        ["Sarah is your daughter.", "Sarah is your daughter."]
    );
    assert_eq!(event_name(events.last().unwrap()), "completionEnd");
    mock.stop().await;
}
