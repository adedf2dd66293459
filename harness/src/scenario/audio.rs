//! Audio for scenarios: recorded clips (WAV through [`mocks::wav`], read once,
//! kept as 16-bit mono) and silence, cut into chunks of N ms and encoded as
//! the target API wants: a whole WAV file per chunk (seed 000's browser
//! client) or raw PCM.

use std::path::Path;

use base64::Engine as _;

use super::model::ChunkFormat;

/// A clip in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Sample rate.
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    pub samples: Vec<i16>,
}

/// Why a clip is unusable.
#[derive(Debug, thiserror::Error)]
#[error("audio file {path}: {message}")]
pub struct ClipError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Clip {
    /// Reads a WAV file (any integer or float format, channels averaged;
    /// conversions: [`mocks::wav`]).
    pub fn read(path: &Path) -> Result<Self, ClipError> {
        let file = std::fs::File::open(path).map_err(|e| ClipError {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_reader(std::io::BufReader::new(file), &path.display().to_string())
    }

    /// Reads WAV bytes (a file's content; `name` is what errors call it).
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, ClipError> {
        Self::from_reader(std::io::Cursor::new(bytes), name)
    }

    fn from_reader<R: std::io::Read>(reader: R, name: &str) -> Result<Self, ClipError> {
        let decoded = mocks::wav::decode(reader).map_err(|e| ClipError {
            path: name.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            sample_rate: decoded.sample_rate,
            samples: decoded.samples,
        })
    }

    /// Silence.
    pub fn silence(duration: std::time::Duration, sample_rate: u32) -> Self {
        Self {
            sample_rate,
            samples: vec![0; (duration.as_secs_f64() * f64::from(sample_rate)) as usize],
        }
    }

    /// Its length.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(
            self.samples.len() as f64 / f64::from(self.sample_rate.max(1)),
        )
    }

    /// Chunks of `chunk_ms` (the last may be shorter).
    pub fn chunks(&self, chunk_ms: u32) -> impl Iterator<Item = &[i16]> {
        let per_chunk = (self.sample_rate as usize * chunk_ms.max(1) as usize / 1000).max(1);
        self.samples.chunks(per_chunk)
    }
}

/// Speech time in a clip as the speech mocks' voice activity detector
/// measures it (what their transcript catalogs are keyed by).
pub fn speech_duration(clip: &Clip) -> std::time::Duration {
    let config = mocks::speech::VadConfig {
        sample_rate: clip.sample_rate,
        ..mocks::speech::VadConfig::default()
    };
    let mut vad = mocks::speech::Vad::new(config);
    let mut speech = std::time::Duration::ZERO;
    let mut events = vad.push(&clip.samples);
    events.extend(vad.push(&vec![0; clip.sample_rate as usize * 2]));
    for event in events {
        if let mocks::speech::VadEvent::SpeechEnd { speech: part, .. } = event {
            speech += part;
        }
    }
    speech
}

/// The recorded clips of a folder with their sidecar transcripts (`name.wav` +
/// `name.txt`), as (speech duration, transcript) pairs for the speech mocks.
pub fn transcripts_in(dir: &Path) -> Result<Vec<(std::time::Duration, String)>, ClipError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| ClipError {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for wav in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
    {
        let Ok(text) = std::fs::read_to_string(wav.with_extension("txt")) else {
            continue;
        };
        let clip = Clip::read(&wav)?;
        found.push((speech_duration(&clip), text.trim().to_owned()));
    }
    Ok(found)
}

/// A chunk encoded: base64 and its mime type.
pub fn encode_chunk(samples: &[i16], sample_rate: u32, format: ChunkFormat) -> (String, String) {
    let bytes = match format {
        ChunkFormat::Pcm => mocks::speech::pcm16_to_bytes(samples),
        ChunkFormat::Wav => wav_bytes(samples, sample_rate),
    };
    let mime = match format {
        ChunkFormat::Pcm => format!("audio/pcm;rate={sample_rate}"),
        ChunkFormat::Wav => "audio/wav".to_owned(),
    };
    (
        base64::engine::general_purpose::STANDARD.encode(bytes),
        mime,
    )
}

/// A whole 16-bit mono WAV file.
pub fn wav_bytes(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    mocks::wav::encode_mono16(samples, sample_rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn chunking_and_encoding() {
        let clip = Clip::silence(Duration::from_millis(250), 16_000);
        let sizes: Vec<usize> = clip.chunks(100).map(<[i16]>::len).collect();
        assert_eq!(sizes, vec![1600, 1600, 800]);
        let (pcm, mime) = encode_chunk(&[1, -1], 16_000, ChunkFormat::Pcm);
        assert_eq!(mime, "audio/pcm;rate=16000");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(pcm)
                .unwrap(),
            vec![1, 0, 255, 255]
        );
        let (wav, mime) = encode_chunk(&[0; 160], 16_000, ChunkFormat::Wav);
        assert_eq!(mime, "audio/wav");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(wav)
            .unwrap();
        assert!(bytes.starts_with(b"RIFF") && bytes.len() == 44 + 320);
    }

    #[test]
    fn reads_back_what_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let samples: Vec<i16> = (0..800).map(|i| (i * 13 % 2000) as i16).collect();
        std::fs::write(&path, wav_bytes(&samples, 16_000)).unwrap();
        let clip = Clip::read(&path).unwrap();
        assert_eq!(clip.sample_rate, 16_000);
        assert_eq!(clip.samples.len(), 800);
        assert!(
            clip.samples
                .iter()
                .zip(&samples)
                .all(|(a, b)| (a - b).abs() <= 1)
        );
    }
}
