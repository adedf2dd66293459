//! Client audio to what the speech models take: 16 kHz mono 16-bit PCM.
//! Accepts a whole WAV file per chunk (`audio/wav`, as seed 000's browser
//! client sends: any sample rate, any channel count, 8/16/24/32-bit integer or
//! 32-bit float) or raw little-endian 16-bit mono PCM (`audio/pcm;rate=N`);
//! resamples with rubato's FFT resampler. Bad input is an [`AudioError`] that
//! says what to send instead.

use audioadapter_buffers::direct::SequentialSliceOfVecs;
use base64::Engine as _;
use rubato::{Fft, FixedSync, Resampler};

/// The rate the models take.
pub const TARGET_RATE: u32 = 16_000;
/// Accepted input sample rates.
pub const RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// Why a chunk of audio was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// `audio` is not base64.
    #[error("Invalid audio: not valid base64")]
    BadBase64,
    /// No samples.
    #[error("Invalid audio: the chunk is empty")]
    Empty,
    /// A `mime_type` we do not decode.
    #[error("Invalid audio: unsupported mime_type {0:?}; send audio/wav or audio/pcm;rate=16000")]
    UnsupportedMime(String),
    /// Bytes that are not the declared format.
    #[error("Invalid audio: {0}")]
    Malformed(String),
}

/// The declared format of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// A whole WAV file.
    Wav,
    /// Raw 16-bit little-endian mono PCM at this rate.
    Pcm16 {
        /// Sample rate.
        rate: u32,
    },
}

/// Reads a `mime_type`; `None` (absent) means WAV if the bytes say so.
pub fn parse_mime(mime: Option<&str>, bytes: &[u8]) -> Result<AudioFormat, AudioError> {
    let Some(mime) = mime.map(str::trim).filter(|m| !m.is_empty()) else {
        return if bytes.starts_with(b"RIFF") {
            Ok(AudioFormat::Wav)
        } else {
            Err(AudioError::Malformed(
                "no mime_type and the bytes are not a WAV file".to_owned(),
            ))
        };
    };
    let mut parts = mime.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
    match essence.as_str() {
        "audio/wav" | "audio/wave" | "audio/x-wav" | "audio/vnd.wave" => Ok(AudioFormat::Wav),
        "audio/pcm" => {
            let mut rate = TARGET_RATE;
            for parameter in parts {
                if let Some(value) = parameter.strip_prefix("rate=") {
                    rate = value
                        .parse()
                        .map_err(|_| AudioError::UnsupportedMime(mime.to_owned()))?;
                }
            }
            if !RATES.contains(&rate) {
                return Err(AudioError::UnsupportedMime(mime.to_owned()));
            }
            Ok(AudioFormat::Pcm16 { rate })
        }
        _ => Err(AudioError::UnsupportedMime(mime.to_owned())),
    }
}

/// Decodes a client chunk (`audio` base64 and `mime_type`) to 16 kHz mono PCM.
pub fn decode_chunk(audio_base64: &str, mime: Option<&str>) -> Result<Vec<i16>, AudioError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(audio_base64.trim())
        .map_err(|_| AudioError::BadBase64)?;
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let (rate, mono) = match parse_mime(mime, &bytes)? {
        AudioFormat::Wav => read_wav(&bytes)?,
        AudioFormat::Pcm16 { rate } => {
            if bytes.len() % 2 != 0 {
                return Err(AudioError::Malformed(
                    "raw PCM has an odd number of bytes".to_owned(),
                ));
            }
            let samples = bytes
                .chunks_exact(2)
                .map(|p| f32::from(i16::from_le_bytes([p[0], p[1]])) / 32_768.0);
            (rate, samples.collect())
        }
    };
    if mono.is_empty() {
        return Err(AudioError::Empty);
    }
    let resampled = resample(&mono, rate, TARGET_RATE)?;
    Ok(resampled
        .iter()
        .map(|s| (s * 32_768.0).clamp(-32_768.0, 32_767.0) as i16)
        .collect())
}

/// Reads a WAV file into (rate, mono samples in -1..1).
fn read_wav(bytes: &[u8]) -> Result<(u32, Vec<f32>), AudioError> {
    let malformed =
        |e: hound::Error| AudioError::Malformed(format!("not a readable WAV file ({e})"));
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(malformed)?;
    let spec = reader.spec();
    if !RATES.contains(&spec.sample_rate) || spec.channels == 0 {
        return Err(AudioError::Malformed(format!(
            "WAV at {} Hz with {} channels; rates from 8000 to 192000 Hz are accepted",
            spec.sample_rate, spec.channels
        )));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(malformed)?,
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<Result<_, _>>()
                .map_err(malformed)?
        }
    };
    // NaN or infinite samples would poison the FFT resampler (it panics on
    // them): a float WAV must hold numbers.
    if interleaved.iter().any(|s| !s.is_finite()) {
        return Err(AudioError::Malformed(
            "the WAV holds NaN or infinite samples".to_owned(),
        ));
    }
    let channels = usize::from(spec.channels);
    let mono = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / frame.len() as f32)
        .collect();
    Ok((spec.sample_rate, mono))
}

/// Resamples mono audio (identity when the rates match).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to {
        return Ok(samples.to_vec());
    }
    let fail = |e: &dyn std::fmt::Display| {
        AudioError::Malformed(format!("cannot resample {from} Hz: {e}"))
    };
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| fail(&e))?;
    // Full scale at most, and numbers only: out-of-range floats overflow the
    // FFT into NaN, on which the resampler panics.
    let clean = samples
        .iter()
        .map(|s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect();
    let channels = vec![clean];
    let input = SequentialSliceOfVecs::new(&channels, 1, samples.len()).map_err(|e| fail(&e))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| fail(&e))?;
    Ok(output.take_data())
}

/// 16-bit samples to little-endian bytes.
pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wav(rate: u32, channels: u16, bits: u16, frames: usize) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        let amplitude = (1i32 << (bits - 2)) as f64;
        for i in 0..frames {
            let value =
                ((i as f64 / rate as f64) * 440.0 * std::f64::consts::TAU).sin() * amplitude;
            for _ in 0..channels {
                writer.write_sample(value as i32).unwrap();
            }
        }
        writer.finalize().unwrap();
        cursor.into_inner()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn wav_at_any_rate_and_channel_count_becomes_16k_mono() {
        for (rate, channels, bits) in [
            (16_000, 1, 16),
            (48_000, 2, 16),
            (44_100, 1, 24),
            (8_000, 1, 8),
            (22_050, 6, 32),
        ] {
            let frames = rate as usize / 2; // half a second
            let samples =
                decode_chunk(&b64(&wav(rate, channels, bits, frames)), Some("audio/wav")).unwrap();
            let expected = 8_000i64;
            assert!(
                (samples.len() as i64 - expected).abs() <= 32,
                "{rate} Hz x{channels}: {} samples",
                samples.len()
            );
            let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
            assert!(
                peak > 4_000,
                "{rate} Hz x{channels}: the tone survives ({peak})"
            );
        }
    }

    #[test]
    fn raw_pcm_with_rate() {
        let pcm: Vec<u8> = (0..4800i16).flat_map(|s| (s % 100).to_le_bytes()).collect();
        assert_eq!(
            decode_chunk(&b64(&pcm), Some("audio/pcm;rate=16000"))
                .unwrap()
                .len(),
            4800
        );
        let at_48k = decode_chunk(&b64(&pcm), Some("audio/pcm; rate=48000")).unwrap();
        assert!((at_48k.len() as i64 - 1600).abs() <= 16);
        assert_eq!(
            decode_chunk(&b64(&pcm), Some("audio/pcm")).unwrap().len(),
            4800
        );
    }

    #[test]
    fn bad_inputs_say_what_is_wrong() {
        assert_eq!(
            decode_chunk("***", Some("audio/wav")),
            Err(AudioError::BadBase64)
        );
        assert_eq!(decode_chunk("", Some("audio/wav")), Err(AudioError::Empty));
        assert!(matches!(
            decode_chunk(&b64(b"hello, not audio"), Some("audio/wav")),
            Err(AudioError::Malformed(_))
        ));
        assert!(matches!(
            decode_chunk(&b64(b"hello, not audio"), None),
            Err(AudioError::Malformed(_))
        ));
        assert!(matches!(
            decode_chunk(&b64(&[1, 2, 3]), Some("audio/pcm")),
            Err(AudioError::Malformed(_))
        ));
        assert!(matches!(
            decode_chunk(&b64(&[1, 2]), Some("audio/webm;codecs=opus")),
            Err(AudioError::UnsupportedMime(_))
        ));
        assert!(matches!(
            decode_chunk(&b64(&[1, 2]), Some("audio/pcm;rate=3")),
            Err(AudioError::UnsupportedMime(_))
        ));
        let text = AudioError::UnsupportedMime("audio/webm".into()).to_string();
        assert!(text.contains("audio/wav") && text.contains("audio/pcm"));
    }

    #[test]
    fn wav_is_sniffed_without_mime() {
        let samples = decode_chunk(&b64(&wav(16_000, 1, 16, 1600)), None).unwrap();
        assert_eq!(samples.len(), 1600);
    }

    /// Found by the `audio_chunk` fuzz target: a float WAV with NaN samples
    /// made rubato's FFT resampler panic (a client could crash the function).
    #[test]
    fn regression_float_wav_with_nan_samples_is_refused_not_a_panic() {
        let crash: [u8; 60] = [
            0x52, 0x49, 0x46, 0x46, 0x34, 0x00, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45, 0x66, 0x6d,
            0x74, 0x20, 0x10, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x44, 0xac, 0x00, 0x00,
            0x10, 0xb1, 0x02, 0x00, 0x04, 0x00, 0x20, 0x00, 0x64, 0x61, 0x74, 0x61, 0x10, 0x00,
            0x00, 0x00, 0x00, 0x00, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ];
        let error = decode_chunk(&b64(&crash), Some("audio/wav")).unwrap_err();
        assert_eq!(
            error,
            AudioError::Malformed("the WAV holds NaN or infinite samples".to_owned())
        );
        // Finite but huge samples are clamped to full scale, not a panic either.
        let mut huge = crash.to_vec();
        huge[44..60].copy_from_slice(&[0xff, 0xff, 0x7f, 0x7f].repeat(4));
        assert!(decode_chunk(&b64(&huge), Some("audio/wav")).is_ok());
        assert!(resample(&[f32::NAN, f32::INFINITY, 1e30, -1e30], 44_100, 16_000).is_ok());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), wav_header in any::<bool>()) {
            let mut data = bytes;
            if wav_header {
                let mut header = b"RIFF\x24\x08\x00\x00WAVEfmt ".to_vec();
                header.extend(data);
                data = header;
            }
            let _ = decode_chunk(&b64(&data), Some("audio/wav"));
            let _ = decode_chunk(&b64(&data), None);
        }

        #[test]
        fn pcm_at_16k_is_unchanged(samples in proptest::collection::vec(any::<i16>(), 1..2048)) {
            let bytes = pcm_bytes(&samples);
            prop_assert_eq!(decode_chunk(&b64(&bytes), Some("audio/pcm;rate=16000")).unwrap(), samples);
        }
    }
}
