//! The sending side of a session: the handshake (with the scenario's query,
//! headers and subprotocols), single messages, and audio streamed at real-time
//! pace divided by the time scale.

use super::receiving::read;
use super::*;
use crate::replay::client;

impl Runner {
    pub(super) async fn connect(&mut self, connect: &Connect, name: &str) -> bool {
        let mut query = Vec::new();
        for (key, value) in &connect.query {
            match render(value, &self.vars) {
                Ok(value) => query.push((key.clone(), value)),
                Err(e) => {
                    self.fail(name, "scenario", e.to_string(), None, None);
                    return false;
                }
            }
        }
        let headers: Vec<(String, String)> = connect
            .headers
            .iter()
            .map(|(header, value)| {
                (
                    header.clone(),
                    render(value, &self.vars).unwrap_or_default(),
                )
            })
            .collect();
        let request = match client::request(&self.plan.url, &query, &headers) {
            Ok(request) => request,
            Err(e) => {
                self.fail(name, "connect", e.to_string(), None, None);
                return false;
            }
        };
        let url = request.uri().to_string();
        let expected = connect.expect_status.unwrap_or(101);
        match client::open(request).await {
            client::Handshake::Open((socket, opened)) => {
                self.plan
                    .metrics
                    .record("connect", opened.took, self.plan.run_start.elapsed());
                self.inbox
                    .event("connect", format!("101 in {} ms", opened.took.as_millis()));
                if expected != 101 {
                    self.fail(
                        name,
                        "connect",
                        format!("the handshake succeeded, expected HTTP {expected}"),
                        Some(expected.into()),
                        Some(101.into()),
                    );
                    return false;
                }
                let (writer, reader) = socket.split();
                // A reconnection: the earlier socket's close is history.
                self.inbox.reopen();
                self.closed_by_client = None;
                self.writer = Some(writer);
                self.reader = Some(tokio::spawn(read(
                    reader,
                    self.inbox.clone(),
                    self.shared.clone(),
                    self.plan.clone(),
                )));
                true
            }
            client::Handshake::Refused(status, body) => {
                self.inbox
                    .event("connect", format!("refused with HTTP {status}"));
                if status == expected {
                    // Refused as the scenario expects: nothing after it can run, and nothing failed.
                    self.inbox.close(
                        0,
                        format!("handshake refused with HTTP {status}, as expected"),
                    );
                    return false;
                }
                self.fail(
                    name,
                    "connect",
                    format!("handshake refused with HTTP {status}"),
                    Some(expected.into()),
                    Some(Value::from(body.unwrap_or_else(|| status.to_string()))),
                );
                false
            }
            client::Handshake::Failed(_, message) => {
                self.fail(
                    name,
                    "connect",
                    format!("cannot connect to {url}: {message}"),
                    None,
                    None,
                );
                false
            }
        }
    }

    pub(super) async fn send(&mut self, message: Message, label: &str, name: &str) -> bool {
        let Some(writer) = self.writer.as_mut() else {
            self.fail(
                name,
                "ordering",
                "send before connect".to_owned(),
                None,
                None,
            );
            return false;
        };
        let size = message.len() as u64;
        if let Message::Text(text) = &message {
            self.inbox.wire("out", text);
            if let Ok(value) = serde_json::from_str::<Value>(text) {
                let mut shared = self.shared.lock().expect("shared lock");
                if let Some(tracker) = shared.tracker.as_mut() {
                    tracker.sent(Instant::now(), &value);
                }
            }
        }
        self.inbox.event("send", label);
        if let Err(e) = writer.send(message).await {
            self.send_failed(name, "", &e);
            return false;
        }
        self.count_sent(size);
        self.last_send = Some((label.to_owned(), Instant::now()));
        true
    }

    pub(super) async fn stream(
        &mut self,
        clip: &Clip,
        chunk_ms: u32,
        format: ChunkFormat,
        template: &Value,
        name: &str,
    ) -> bool {
        let interval = self
            .plan
            .time_scale
            .to_real(Duration::from_millis(u64::from(chunk_ms)));
        let started = tokio::time::Instant::now();
        self.inbox.event(
            "stream",
            format!("{:.1} s of audio", clip.duration().as_secs_f64()),
        );
        for (index, chunk) in clip.chunks(chunk_ms).enumerate() {
            let due = started + interval * index as u32;
            tokio::time::sleep_until(due).await;
            if !self
                .send_chunk(chunk, clip.sample_rate, format, template, name, due)
                .await
            {
                return false;
            }
        }
        // A stream's answer is timed as turn latency, not as a request/reply pair.
        self.last_send = None;
        true
    }

    /// Sends one audio chunk with `template`, due to leave at `due` (its
    /// lateness is the harness's own pace).
    pub(super) async fn send_chunk(
        &mut self,
        chunk: &[i16],
        sample_rate: u32,
        format: ChunkFormat,
        template: &Value,
        name: &str,
        due: tokio::time::Instant,
    ) -> bool {
        let (audio, mime_type) = encode_chunk(chunk, sample_rate, format);
        let mut vars = self.vars.clone();
        vars.insert("chunk".to_owned(), audio);
        vars.insert("mime_type".to_owned(), mime_type);
        let message = match render_value(template, &vars) {
            Ok(value) => Message::text(value.to_string()),
            Err(e) => {
                self.fail(name, "scenario", e.to_string(), None, None);
                return false;
            }
        };
        let Some(writer) = self.writer.as_mut() else {
            self.fail(
                name,
                "ordering",
                "stream before connect".to_owned(),
                None,
                None,
            );
            return false;
        };
        let size = message.len() as u64;
        if let Err(e) = writer.send(message).await {
            self.send_failed(name, " audio", &e);
            return false;
        }
        self.count_sent(size);
        self.plan.metrics.record(
            STREAM_LATENESS,
            tokio::time::Instant::now().saturating_duration_since(due),
            self.plan.run_start.elapsed(),
        );
        true
    }

    /// A send that failed, with the socket's close when it had one.
    fn send_failed(&mut self, name: &str, what: &str, error: &WsError) {
        let closed = self
            .inbox
            .closed()
            .map(|c| format!(" (closed with {} {})", c.code, c.reason))
            .unwrap_or_default();
        self.fail(
            name,
            "send",
            format!("cannot send{what}: {error}{closed}"),
            None,
            None,
        );
    }

    /// Counts one sent message of `size` bytes (and its 32 KB billing units).
    fn count_sent(&self, size: u64) {
        let mut shared = self.shared.lock().expect("shared lock");
        shared.sent += 1;
        shared.bytes_sent += size;
        shared.units_sent += metered_units(size, WEBSOCKET_MESSAGE_UNIT_BYTES);
    }
}
