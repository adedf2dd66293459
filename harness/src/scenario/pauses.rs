//! Pauses between clips, as the target's voice activity detector hears them:
//! a written pause plus the quiet a clip already ends with and the quiet the
//! next one starts with. The loader warns when what a scenario calls one
//! utterance (clips of one `answer`, or `stream_audio` steps joined by a
//! `stream_silence` shorter than the end-of-utterance silence) would be
//! heard as two, because the real pause reaches the end-of-utterance silence.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::audio::Clip;
use super::model::{Step, StreamSilence};

/// Analysis frame of the quiet measurement (the speech mocks' VAD frame).
const FRAME_MS: u32 = 20;
/// A frame above this level (dBFS) is speech (the speech mocks' VAD threshold).
const SPEECH_DBFS: f64 = -45.0;

/// Quiet at the start and at the end of a clip.
pub(crate) fn edge_quiet(clip: &Clip) -> (Duration, Duration) {
    let frame = (clip.sample_rate as usize * FRAME_MS as usize / 1000).max(1);
    let loud: Vec<bool> = clip
        .samples
        .chunks(frame)
        .map(|f| mocks::speech::rms_dbfs(f) > SPEECH_DBFS)
        .collect();
    let ms = |frames: usize| Duration::from_millis((frames * FRAME_MS as usize) as u64);
    match (loud.iter().position(|l| *l), loud.iter().rposition(|l| *l)) {
        (Some(first), Some(last)) => (ms(first), ms(loud.len() - 1 - last)),
        _ => (clip.duration(), clip.duration()),
    }
}

/// One warning per pause that would split an utterance.
pub(crate) fn split_warnings(
    steps: &[Step],
    clips: &BTreeMap<String, Arc<Clip>>,
    end_of_utterance: Duration,
) -> Vec<String> {
    let mut warnings = Vec::new();
    walk(steps, "steps", clips, end_of_utterance, &mut warnings);
    warnings
}

fn check_pause(
    (before, after): (&str, &str),
    written: Duration,
    clips: &BTreeMap<String, Arc<Clip>>,
    end_of_utterance: Duration,
    at: &str,
) -> Option<String> {
    let trailing = clips
        .get(before)
        .map_or(Duration::ZERO, |c| edge_quiet(c).1);
    let leading = clips.get(after).map_or(Duration::ZERO, |c| edge_quiet(c).0);
    let heard = trailing + written + leading;
    (heard >= end_of_utterance).then(|| {
        format!(
            "{at}: the pause between {before} and {after} is {} ms as written but {} ms as heard \
             ({} ms of quiet end the first clip, {} ms start the second), at or above the \
             target's {} ms end of utterance: the target will hear two utterances where the \
             scenario means one",
            written.as_millis(),
            heard.as_millis(),
            trailing.as_millis(),
            leading.as_millis(),
            end_of_utterance.as_millis()
        )
    })
}

fn walk(
    steps: &[Step],
    path: &str,
    clips: &BTreeMap<String, Arc<Clip>>,
    eou: Duration,
    warnings: &mut Vec<String>,
) {
    // The last clip streamed and the silence written since, while one utterance is open.
    let mut open: Option<(&str, Duration)> = None;
    for (index, step) in steps.iter().enumerate() {
        let at = format!("{path}[{index}]");
        match step {
            Step::Answer(answer) if !answer.long_turn => {
                let gap = answer.gap.map_or(Duration::from_millis(300), |g| g.0);
                for pair in answer.clips.windows(2) {
                    warnings.extend(check_pause((&pair[0], &pair[1]), gap, clips, eou, &at));
                }
                open = None;
            }
            Step::StreamAudio(stream) => {
                if let Some((before, written)) = open {
                    warnings.extend(check_pause(
                        (before, &stream.file),
                        written,
                        clips,
                        eou,
                        &at,
                    ));
                }
                open = Some((&stream.file, Duration::ZERO));
            }
            Step::StreamSilence(StreamSilence { duration, .. }) => {
                open = open
                    .map(|(before, written)| (before, written + duration.0))
                    .filter(|(_, written)| *written < eou);
            }
            Step::Repeat(repeat) => {
                walk(&repeat.steps, &format!("{at}.repeat"), clips, eou, warnings);
                open = None;
            }
            _ => open = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::duration::Span;
    use crate::scenario::model::{ChunkFormat, StreamAudio};

    fn clip(lead_ms: usize, speech_ms: usize, tail_ms: usize) -> Arc<Clip> {
        let at = |ms: usize| ms * 16;
        let mut samples = vec![0i16; at(lead_ms)];
        samples.extend((0..at(speech_ms)).map(|i| if i % 2 == 0 { 8_000 } else { -8_000 }));
        samples.extend(vec![0i16; at(tail_ms)]);
        Arc::new(Clip {
            sample_rate: 16_000,
            samples,
        })
    }

    fn stream(file: &str) -> Step {
        Step::StreamAudio(StreamAudio {
            file: file.to_owned(),
            chunk_ms: 250,
            format: ChunkFormat::Wav,
            message: serde_json::json!({}),
        })
    }

    fn silence(ms: u64) -> Step {
        Step::StreamSilence(StreamSilence {
            duration: Span(Duration::from_millis(ms)),
            chunk_ms: 250,
            sample_rate: 16_000,
            format: ChunkFormat::Wav,
            message: serde_json::json!({}),
        })
    }

    #[test]
    fn edge_quiet_is_measured() {
        let (lead, tail) = edge_quiet(&clip(100, 1_000, 360));
        assert_eq!(lead, Duration::from_millis(100));
        assert_eq!(tail, Duration::from_millis(360));
    }

    #[test]
    fn a_written_pause_plus_the_clips_quiet_can_split_an_utterance() {
        let clips: BTreeMap<String, Arc<Clip>> = [
            ("a".to_owned(), clip(40, 1_000, 360)),
            ("b".to_owned(), clip(40, 1_000, 360)),
        ]
        .into();
        let eou = Duration::from_millis(800);
        // 500 ms written + 360 + 40 = 900 ms heard: two utterances.
        let split = [stream("a"), silence(500), stream("b"), silence(1_200)];
        let warnings = split_warnings(&split, &clips, eou);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("900 ms as heard"), "{}", warnings[0]);
        // 300 ms written: 700 ms heard, one utterance.
        let joined = [stream("a"), silence(300), stream("b")];
        assert!(split_warnings(&joined, &clips, eou).is_empty());
        // A written pause of 800 ms or more ends the utterance on purpose.
        let apart = [stream("a"), silence(1_200), stream("b")];
        assert!(split_warnings(&apart, &clips, eou).is_empty());
    }
}
