//! What the speech mocks share: 16-bit PCM helpers, an energy-based voice
//! activity detector timed in samples (so a time-scaled replay behaves exactly
//! like a real-time one), a deterministic "voice" synthesizer for model audio,
//! a transcript catalog standing in for speech recognition (utterances are
//! recognised by their speech duration), and token counting rules.

use std::time::Duration;

/// Little-endian 16-bit PCM bytes to samples (a trailing odd byte is ignored).
pub fn pcm16_from_bytes(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

/// Samples to little-endian 16-bit PCM bytes.
pub fn pcm16_to_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Duration of `samples` at `sample_rate`.
pub fn duration_of(samples: usize, sample_rate: u32) -> Duration {
    Duration::from_secs_f64(samples as f64 / f64::from(sample_rate.max(1)))
}

/// Voice activity detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Sample rate of the input.
    pub sample_rate: u32,
    /// Analysis frame length.
    pub frame_ms: u32,
    /// A frame whose RMS level is above this (dBFS) is speech.
    pub threshold_dbfs: f64,
    /// Speech must last this long to count (clicks are ignored).
    pub min_speech_ms: u32,
    /// Silence this long ends an utterance.
    pub silence_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            frame_ms: 20,
            threshold_dbfs: -45.0,
            min_speech_ms: 120,
            silence_ms: 800,
        }
    }
}

/// What the detector reports, timed from the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at this offset.
    SpeechStart {
        /// Offset of the first speech frame.
        at: Duration,
    },
    /// The utterance ended (after `silence_ms` of silence).
    SpeechEnd {
        /// Offset of the end of the last speech frame.
        at: Duration,
        /// Speech time in the utterance (frames above the threshold).
        speech: Duration,
    },
}

/// Energy-based voice activity detection over a stream of samples.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    frame_len: usize,
    pending: Vec<i16>,
    frames_seen: u64,
    /// Consecutive speech frames not yet confirmed as an utterance.
    candidate_run: u32,
    candidate_start: u64,
    in_speech: bool,
    silence_run: u32,
    speech_frames: u64,
    last_speech_frame: u64,
}

impl Vad {
    /// A detector.
    pub fn new(config: VadConfig) -> Self {
        let frame_len = (config.sample_rate as usize * config.frame_ms as usize / 1000).max(1);
        Self {
            config,
            frame_len,
            pending: Vec::new(),
            frames_seen: 0,
            candidate_run: 0,
            candidate_start: 0,
            in_speech: false,
            silence_run: 0,
            speech_frames: 0,
            last_speech_frame: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> VadConfig {
        self.config
    }

    /// Whether an utterance is in progress.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Total audio seen so far.
    pub fn elapsed(&self) -> Duration {
        self.frame_offset(self.frames_seen)
    }

    fn frame_offset(&self, frame: u64) -> Duration {
        Duration::from_millis(frame * u64::from(self.config.frame_ms))
    }

    /// Feeds samples; returns the events they complete.
    pub fn push(&mut self, samples: &[i16]) -> Vec<VadEvent> {
        self.pending.extend_from_slice(samples);
        let mut events = Vec::new();
        let min_frames = self
            .config
            .min_speech_ms
            .div_ceil(self.config.frame_ms)
            .max(1);
        let silence_frames = self.config.silence_ms.div_ceil(self.config.frame_ms).max(1);
        let mut consumed = 0;
        while self.pending.len() - consumed >= self.frame_len {
            let frame = &self.pending[consumed..consumed + self.frame_len];
            consumed += self.frame_len;
            let loud = rms_dbfs(frame) > self.config.threshold_dbfs;
            let index = self.frames_seen;
            self.frames_seen += 1;
            if self.in_speech {
                if loud {
                    self.silence_run = 0;
                    self.speech_frames += 1;
                    self.last_speech_frame = index;
                } else {
                    self.silence_run += 1;
                    if self.silence_run >= silence_frames {
                        self.in_speech = false;
                        events.push(VadEvent::SpeechEnd {
                            at: self.frame_offset(self.last_speech_frame + 1),
                            speech: self.frame_offset(self.speech_frames),
                        });
                    }
                }
            } else if loud {
                if self.candidate_run == 0 {
                    self.candidate_start = index;
                }
                self.candidate_run += 1;
                if self.candidate_run >= min_frames {
                    self.in_speech = true;
                    self.silence_run = 0;
                    self.speech_frames = u64::from(self.candidate_run);
                    self.last_speech_frame = index;
                    self.candidate_run = 0;
                    events.push(VadEvent::SpeechStart {
                        at: self.frame_offset(self.candidate_start),
                    });
                }
            } else {
                self.candidate_run = 0;
            }
        }
        self.pending.drain(..consumed);
        events
    }

    /// Ends the stream (`audioStreamEnd`): an utterance in progress ends now.
    pub fn finish(&mut self) -> Option<VadEvent> {
        self.pending.clear();
        self.candidate_run = 0;
        if !self.in_speech {
            return None;
        }
        self.in_speech = false;
        Some(VadEvent::SpeechEnd {
            at: self.frame_offset(self.last_speech_frame + 1),
            speech: self.frame_offset(self.speech_frames),
        })
    }
}

/// RMS level of a frame in dBFS (digital silence is -120).
pub fn rms_dbfs(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return -120.0;
    }
    let sum: f64 = frame.iter().map(|s| f64::from(*s).powi(2)).sum();
    let rms = (sum / frame.len() as f64).sqrt() / 32_768.0;
    if rms <= 1e-6 {
        -120.0
    } else {
        20.0 * rms.log10()
    }
}

/// How long the synthetic voice takes to say `text` (about 150 words a minute).
pub fn speaking_time(text: &str) -> Duration {
    let words = text.split_whitespace().count().max(1) as f64;
    Duration::from_secs_f64(0.2 + words * 0.4)
}

/// Deterministic voice-like audio for `text`: a 140 Hz buzz with harmonics,
/// shaped into syllables, at about -14 dBFS, lasting [`speaking_time`].
pub fn synthesize(text: &str, sample_rate: u32) -> Vec<i16> {
    let duration = speaking_time(text);
    let total = (duration.as_secs_f64() * f64::from(sample_rate)) as usize;
    let seed = text
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let fundamental = 120.0 + f64::from(seed % 40);
    let syllable_hz = 4.0;
    (0..total)
        .map(|i| {
            let t = i as f64 / f64::from(sample_rate);
            let envelope = (std::f64::consts::PI * syllable_hz * t)
                .sin()
                .abs()
                .powf(0.6);
            let voice = (1..=4)
                .map(|h| {
                    (2.0 * std::f64::consts::PI * fundamental * f64::from(h) * t).sin()
                        / f64::from(h)
                })
                .sum::<f64>();
            (voice * envelope * 0.2 * 32_767.0).clamp(-32_768.0, 32_767.0) as i16
        })
        .collect()
}

/// Digital silence of `duration`.
pub fn silence(duration: Duration, sample_rate: u32) -> Vec<i16> {
    vec![0; (duration.as_secs_f64() * f64::from(sample_rate)) as usize]
}

/// Stands in for speech recognition: known utterances (the scenario clips,
/// with their sidecar transcripts) are recognised by their speech duration.
#[derive(Debug, Clone, Default)]
pub struct TranscriptCatalog {
    entries: Vec<(Duration, String)>,
}

impl TranscriptCatalog {
    /// Adds an utterance whose speech lasts `speech`.
    pub fn add(&mut self, speech: Duration, text: impl Into<String>) {
        self.entries.push((speech, text.into()));
    }

    /// Number of known utterances.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The transcript of an utterance: the known one whose duration is
    /// nearest (within 15% or 300 ms), else a placeholder naming the duration.
    pub fn recognize(&self, speech: Duration) -> String {
        let best = self
            .entries
            .iter()
            .map(|(known, text)| (known.as_secs_f64() - speech.as_secs_f64(), text))
            .map(|(delta, text)| (delta.abs(), text))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((delta, text)) if delta <= (speech.as_secs_f64() * 0.15).max(0.3) => text.clone(),
            _ => format!("(unrecognised speech, {:.1} s)", speech.as_secs_f64()),
        }
    }
}

/// Text tokens, approximated as one per four characters (at least one for non-empty text).
pub fn text_tokens(text: &str) -> u64 {
    if text.is_empty() {
        0
    } else {
        (text.chars().count() as u64).div_ceil(4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stream(parts: &[(bool, u64)]) -> Vec<i16> {
        parts
            .iter()
            .flat_map(|(speech, ms)| {
                let d = Duration::from_millis(*ms);
                if *speech {
                    synthesize(&"word ".repeat(40), 16_000)[..(16 * *ms as usize)].to_vec()
                } else {
                    silence(d, 16_000)
                }
            })
            .collect()
    }

    #[test]
    fn detects_one_utterance_with_timing() {
        let audio = stream(&[(false, 500), (true, 2000), (false, 1000)]);
        let mut vad = Vad::new(VadConfig::default());
        let events = vad.push(&audio);
        assert_eq!(events.len(), 2, "{events:?}");
        let VadEvent::SpeechStart { at } = events[0] else {
            panic!()
        };
        assert!(
            at.abs_diff(Duration::from_millis(500)) <= Duration::from_millis(60),
            "{at:?}"
        );
        let VadEvent::SpeechEnd { at, speech } = events[1] else {
            panic!()
        };
        assert!(
            at.abs_diff(Duration::from_millis(2500)) <= Duration::from_millis(60),
            "{at:?}"
        );
        assert!(
            speech.abs_diff(Duration::from_millis(2000)) <= Duration::from_millis(300),
            "{speech:?}"
        );
    }

    #[test]
    fn short_pauses_do_not_end_an_utterance() {
        let audio = stream(&[(true, 1000), (false, 400), (true, 1000), (false, 900)]);
        let events = Vad::new(VadConfig::default()).push(&audio);
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, VadEvent::SpeechEnd { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn silence_and_clicks_are_not_speech() {
        let mut audio = silence(Duration::from_secs(2), 16_000);
        audio[8000] = 30_000;
        assert!(Vad::new(VadConfig::default()).push(&audio).is_empty());
    }

    #[test]
    fn catalog_recognises_by_duration() {
        let mut catalog = TranscriptCatalog::default();
        catalog.add(Duration::from_millis(3000), "I live in Lisbon.");
        catalog.add(Duration::from_millis(6000), "I work as an engineer.");
        assert_eq!(
            catalog.recognize(Duration::from_millis(3100)),
            "I live in Lisbon."
        );
        assert_eq!(
            catalog.recognize(Duration::from_millis(5800)),
            "I work as an engineer."
        );
        assert!(
            catalog
                .recognize(Duration::from_millis(10_000))
                .starts_with("(unrecognised")
        );
    }

    #[test]
    fn text_tokens_are_a_quarter_of_the_characters() {
        assert_eq!(text_tokens("abcdefgh"), 2);
        assert_eq!(text_tokens(""), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn pcm_round_trips(samples in proptest::collection::vec(any::<i16>(), 0..512)) {
            prop_assert_eq!(pcm16_from_bytes(&pcm16_to_bytes(&samples)), samples);
        }

        #[test]
        fn chunking_does_not_change_events(chunk in 1usize..4000) {
            let audio = stream(&[(false, 300), (true, 1500), (false, 1000), (true, 700), (false, 1000)]);
            let whole = Vad::new(VadConfig::default()).push(&audio);
            let mut vad = Vad::new(VadConfig::default());
            let pieces: Vec<VadEvent> = audio.chunks(chunk).flat_map(|c| vad.push(c)).collect();
            prop_assert_eq!(whole, pieces);
        }
    }
}
