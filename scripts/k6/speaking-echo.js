// The speaking message pattern of scenarios/load/speaking-echo-capacity.yaml
// for k6 (k6/experimental/websockets), driven by scripts/capacity-vs-k6.sh
// against harness/examples/echo_target.rs. Each session (one iteration of a
// constant-arrival-rate scenario, as the harness's per_second arrival)
// connects, sends start_speaking, waits for session_ready, then sends
// STREAM_SECONDS of 100 ms WAV chunks of 16 kHz silence (3,244 bytes, 4,328
// characters of base64, as the harness sends) on an absolute real-time
// schedule, and closes. `chunk_lateness` is how late each chunk left against
// that schedule, the harness's `stream_lateness`.
//
//   TARGET=ws://127.0.0.1:PORT SESSIONS=100 RATE=200 STREAM_SECONDS=60 k6 run speaking-echo.js
import { WebSocket } from 'k6/experimental/websockets';
import { Counter, Trend } from 'k6/metrics';
import encoding from 'k6/encoding';

const TARGET = __ENV.TARGET || 'ws://127.0.0.1:9000';
const SESSIONS = parseInt(__ENV.SESSIONS || '100', 10);
const RATE = parseInt(__ENV.RATE || '200', 10);
const STREAM_SECONDS = parseFloat(__ENV.STREAM_SECONDS || '60');
const CHUNK_MS = 100;
const CHUNKS = Math.round((STREAM_SECONDS * 1000) / CHUNK_MS);
// k6 wants at least 1 s of arrivals: fewer than RATE sessions arrive over 1 s.
const ARRIVAL_MS = Math.max(1000, Math.round((SESSIONS * 1000) / RATE));

const chunkLateness = new Trend('chunk_lateness', true);
const sessionReady = new Trend('start_speaking_to_session_ready', true);
const replies = new Counter('replies');
const sessionsDone = new Counter('sessions_done');

export const options = {
  scenarios: {
    speaking: {
      executor: 'constant-arrival-rate',
      rate: SESSIONS,
      timeUnit: `${ARRIVAL_MS}ms`,
      duration: `${ARRIVAL_MS}ms`,
      preAllocatedVUs: SESSIONS,
      maxVUs: SESSIONS,
      gracefulStop: `${Math.ceil(STREAM_SECONDS) + 60}s`,
    },
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)', 'max'],
};

// 100 ms of 16 kHz mono 16-bit silence as a whole WAV file, base64.
function silenceChunk() {
  const dataBytes = (16000 * CHUNK_MS / 1000) * 2;
  const buffer = new ArrayBuffer(44 + dataBytes);
  const view = new DataView(buffer);
  const ascii = (offset, text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, 16000, true);
  view.setUint32(28, 32000, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  return encoding.b64encode(buffer);
}

const AUDIO = silenceChunk();

export default function () {
  const ws = new WebSocket(TARGET);
  let startedAt = 0;
  let streaming = false;

  const stream = () => {
    streaming = true;
    const first = Date.now();
    let index = 0;
    const next = () => {
      const due = first + index * CHUNK_MS;
      ws.send(JSON.stringify({ action: 'audio_chunk', audio: AUDIO, mime_type: 'audio/wav' }));
      chunkLateness.add(Math.max(0, Date.now() - due));
      index += 1;
      if (index >= CHUNKS) {
        ws.close();
        sessionsDone.add(1);
        return;
      }
      setTimeout(next, Math.max(0, first + index * CHUNK_MS - Date.now()));
    };
    next();
  };

  ws.onopen = () => {
    startedAt = Date.now();
    ws.send(JSON.stringify({ action: 'start_speaking', user_id: `capacity-${__VU}`, country_code: 'US' }));
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    replies.add(1);
    if (message.type === 'session_ready' && !streaming) {
      sessionReady.add(Date.now() - startedAt);
      stream();
    }
  };
  ws.onerror = (event) => {
    console.error(`session ${__VU}: ${event.error}`);
  };
}
