//! One model turn as the frames it is sent in: the examiner's line as
//! synthetic 24 kHz speech in ~160 ms `inlineData` chunks, interleaved with
//! `outputTranscription` pieces (one per sentence, at most four) that
//! concatenate to the line; or, for TEXT sessions, the line as text parts.
//! Frames are paced like speech (divided by the time scale) so a candidate
//! can barge in while the turn is still being sent.

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine as _;
use tokio::time::Instant;

use crate::speech::{pcm16_to_bytes, synthesize, text_tokens};
use crate::token_rules::{self, Provider};
use crate::vertex::conversation::PlannedTurn;
use crate::vertex::server_messages::TurnUsage;

/// Sample rate of model audio.
pub(crate) const OUTPUT_RATE: u32 = 24_000;

/// Length of one audio chunk.
const CHUNK: Duration = Duration::from_millis(160);

/// Pacing of text parts (TEXT sessions).
const TEXT_PART_INTERVAL: Duration = Duration::from_millis(40);

/// Most transcription pieces per line.
const MAX_PIECES: usize = 4;

/// One frame of a model turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TurnFrame {
    /// Base64 PCM and how long it plays.
    Audio { base64: String, duration: Duration },
    /// A piece of `outputTranscription`.
    Transcription(String),
    /// A text part.
    Text(String),
}

/// A model turn being sent.
#[derive(Debug)]
pub(crate) struct ModelTurn {
    pub(crate) planned: PlannedTurn,
    frames: VecDeque<TurnFrame>,
    next_due: Instant,
    time_scale: f64,
    audio_sent: Duration,
    text_sent: String,
}

impl ModelTurn {
    /// Builds the frames of `planned`; the first is due at `start_at`.
    pub(crate) fn new(
        planned: PlannedTurn,
        text_responses: bool,
        transcribe: bool,
        start_at: Instant,
        time_scale: f64,
    ) -> Self {
        let pieces = sentence_pieces(planned.text, MAX_PIECES);
        let frames = if text_responses {
            pieces.into_iter().map(TurnFrame::Text).collect()
        } else {
            audio_frames(planned.text, if transcribe { pieces } else { Vec::new() })
        };
        Self {
            planned,
            frames,
            next_due: start_at,
            time_scale: time_scale.max(1.0),
            audio_sent: Duration::ZERO,
            text_sent: String::new(),
        }
    }

    /// When the next frame is due; `None` once every frame was sent.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        (!self.frames.is_empty()).then_some(self.next_due)
    }

    /// Takes the next frame and schedules the one after it.
    pub(crate) fn pop(&mut self) -> Option<TurnFrame> {
        let frame = self.frames.pop_front()?;
        let pace = match &frame {
            TurnFrame::Audio { duration, .. } => {
                self.audio_sent += *duration;
                *duration
            }
            TurnFrame::Text(text) => {
                self.text_sent.push_str(text);
                TEXT_PART_INTERVAL
            }
            TurnFrame::Transcription(_) => Duration::ZERO,
        };
        self.next_due += pace.div_f64(self.time_scale);
        Some(frame)
    }

    /// The usage so far: the prompt priced at the start, what was sent as candidates.
    pub(crate) fn usage(&self) -> TurnUsage {
        TurnUsage {
            candidates_audio: if self.audio_sent.is_zero() {
                0
            } else {
                token_rules::built_in(Provider::Vertex).audio_out_tokens(self.audio_sent)
            },
            candidates_text: text_tokens(&self.text_sent),
            ..self.planned.usage
        }
    }
}

/// Audio chunks with transcription pieces spread evenly before them.
fn audio_frames(text: &str, pieces: Vec<String>) -> VecDeque<TurnFrame> {
    let samples = synthesize(text, OUTPUT_RATE);
    let chunk_len = (OUTPUT_RATE as usize * CHUNK.as_millis() as usize) / 1000;
    let chunks: Vec<&[i16]> = samples.chunks(chunk_len).collect();
    let piece_count = pieces.len();
    let mut pieces = pieces.into_iter().enumerate().peekable();
    let mut frames = VecDeque::new();
    for (index, chunk) in chunks.iter().enumerate() {
        while let Some((_, piece)) =
            pieces.next_if(|(i, _)| i * chunks.len() / piece_count.max(1) <= index)
        {
            frames.push_back(TurnFrame::Transcription(piece));
        }
        frames.push_back(TurnFrame::Audio {
            base64: base64::engine::general_purpose::STANDARD.encode(pcm16_to_bytes(chunk)),
            duration: crate::speech::duration_of(chunk.len(), OUTPUT_RATE),
        });
    }
    frames.extend(pieces.map(|(_, piece)| TurnFrame::Transcription(piece)));
    frames
}

/// Splits `text` after sentence ends into at most `max` pieces that
/// concatenate back to `text` (the whitespace starts the next piece).
pub(crate) fn sentence_pieces(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut previous = None;
    for (index, c) in text.char_indices() {
        if c.is_whitespace() && matches!(previous, Some('.' | '?' | '!')) && index > start {
            pieces.push(text[start..index].to_owned());
            start = index;
        }
        previous = Some(c);
    }
    if start < text.len() || pieces.is_empty() {
        pieces.push(text[start..].to_owned());
    }
    let max = max.max(1);
    if pieces.len() > max {
        let tail = pieces.split_off(max - 1).concat();
        pieces.push(tail);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vertex::script::ExaminerPart;
    use proptest::prelude::*;

    fn planned(text: &'static str) -> PlannedTurn {
        PlannedTurn {
            index: 0,
            line: 0,
            text,
            part: ExaminerPart::Part1,
            usage: TurnUsage {
                prompt_audio: 10,
                ..TurnUsage::default()
            },
        }
    }

    #[test]
    fn pieces_split_after_sentences() {
        assert_eq!(
            sentence_pieces("Thank you. Do you work? Yes.", 4),
            vec!["Thank you.", " Do you work?", " Yes."]
        );
        assert_eq!(
            sentence_pieces("A. B. C. D. E.", 3),
            vec!["A.", " B.", " C. D. E."]
        );
        assert_eq!(sentence_pieces("", 4), vec![""]);
    }

    #[test]
    fn an_audio_turn_is_paced_chunks_with_its_transcription() {
        let text = "Thank you. What do you enjoy most about it?";
        let start = Instant::now();
        let mut turn = ModelTurn::new(planned(text), false, true, start, 2.0);
        let mut transcript = String::new();
        let mut audio = Duration::ZERO;
        while let Some(frame) = turn.pop() {
            match frame {
                TurnFrame::Audio { duration, base64 } => {
                    assert!(duration <= CHUNK && !base64.is_empty());
                    audio += duration;
                }
                TurnFrame::Transcription(piece) => transcript.push_str(&piece),
                TurnFrame::Text(_) => panic!("audio session"),
            }
        }
        assert_eq!(transcript, text);
        let spoken = crate::speech::speaking_time(text);
        assert!(audio.abs_diff(spoken) < Duration::from_millis(1));
        assert_eq!(
            turn.usage().candidates_audio,
            token_rules::built_in(Provider::Vertex).audio_out_tokens(spoken)
        );
        assert_eq!(turn.usage().prompt_audio, 10);
        assert!(turn.next_due().is_none());
        assert_eq!(turn.next_due, start + audio.div_f64(2.0));
    }

    #[test]
    fn a_text_turn_has_text_parts() {
        let mut turn = ModelTurn::new(planned("One. Two."), true, true, Instant::now(), 1.0);
        let mut parts = Vec::new();
        while let Some(frame) = turn.pop() {
            parts.push(frame);
        }
        assert_eq!(
            parts,
            vec![
                TurnFrame::Text("One.".into()),
                TurnFrame::Text(" Two.".into())
            ]
        );
        assert_eq!(turn.usage().candidates_text, text_tokens("One. Two."));
        assert_eq!(turn.usage().candidates_audio, 0);
    }

    proptest! {
        #[test]
        fn pieces_concatenate_to_the_text(text in "[a-zA-Z .?!,]{0,80}", max in 1usize..6) {
            let pieces = sentence_pieces(&text, max);
            prop_assert!(pieces.len() <= max);
            prop_assert_eq!(pieces.concat(), text);
        }
    }
}
