//! WAV files as the harness reads and writes them: any
//! WAV (8/16/24/32-bit integer or 32-bit float, any channel count) decodes
//! to mono 16-bit samples at the file's own rate; 16-bit mono samples encode
//! to a whole WAV file.
//!
//! The conversions, chosen so that 16-bit mono (what every recorded clip is)
//! comes back exactly as written:
//! - integer samples stay integers: the channels of a frame are averaged
//!   (rounding toward zero), then shifted to 16 bits (24-bit `v >> 8`,
//!   8-bit `v << 8`); never through a float, so no 32,767-or-32,768 question;
//! - float samples (full scale ±1.0) are averaged, multiplied by 32,767,
//!   rounded and clamped to `-32_768..=32_767`, the usual float-to-i16
//!   convention (the other way, i16 to float, divides by 32,768);
//! - a NaN or infinite float sample is refused ([`WavError::NotFinite`]):
//!   it has no sample value, and silence or full scale would each be a guess.
//!
//! It lives here, in the crate the harness builds on, so that a mock that
//! takes WAV uses the same conversions; none does yet (Vertex refuses
//! `audio/wav`, Bedrock takes raw PCM). The backend decodes its clients'
//! WAVs with a decoder of its own (it resamples for the models).

use std::io::Read;

/// Why bytes are not a usable WAV file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// Not a WAV file, or one hound cannot read.
    #[error("{0}")]
    Unreadable(#[from] hound::Error),
    /// A float sample is NaN or infinite.
    #[error("the WAV holds NaN or infinite samples")]
    NotFinite,
}

/// Mono 16-bit samples at a sample rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonoPcm16 {
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// The samples, channels averaged.
    pub samples: Vec<i16>,
}

/// Decodes a whole WAV file (see the module doc for the conversions).
pub fn decode(reader: impl Read) -> Result<MonoPcm16, WavError> {
    let mut reader = hound::WavReader::new(reader)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => {
            let floats = reader.samples::<f32>().collect::<Result<Vec<_>, _>>()?;
            if floats.iter().any(|s| !s.is_finite()) {
                return Err(WavError::NotFinite);
            }
            floats
                .chunks(channels)
                .map(|frame| float_to_i16(frame.iter().sum::<f32>() / frame.len() as f32))
                .collect()
        }
        hound::SampleFormat::Int => {
            let ints = reader.samples::<i32>().collect::<Result<Vec<_>, _>>()?;
            let bits = u32::from(spec.bits_per_sample.clamp(1, 32));
            ints.chunks(channels)
                .map(|frame| {
                    let sum: i64 = frame.iter().copied().map(i64::from).sum();
                    to_16_bits(sum / frame.len() as i64, bits)
                })
                .collect()
        }
    };
    Ok(MonoPcm16 {
        sample_rate: spec.sample_rate,
        samples,
    })
}

/// Decodes WAV bytes.
pub fn decode_bytes(bytes: &[u8]) -> Result<MonoPcm16, WavError> {
    decode(std::io::Cursor::new(bytes))
}

/// A whole 16-bit mono WAV file of `samples` (44 header bytes, then the data).
pub fn encode_mono16(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).expect("in-memory WAV writer");
        for sample in samples {
            writer.write_sample(*sample).expect("in-memory write");
        }
        writer.finalize().expect("in-memory finalize");
    }
    cursor.into_inner()
}

/// A finite float sample (full scale ±1.0) as 16 bits: ×32,767, rounded, clamped.
fn float_to_i16(sample: f32) -> i16 {
    (sample * 32_767.0).round().clamp(-32_768.0, 32_767.0) as i16
}

/// An integer sample of `bits` bits (1 to 32) as 16 bits.
fn to_16_bits(sample: i64, bits: u32) -> i16 {
    let scaled = if bits >= 16 {
        sample >> (bits - 16)
    } else {
        sample << (16 - bits)
    };
    scaled.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn wav_of<S: hound::Sample + Copy>(spec: hound::WavSpec, samples: &[S]) -> Vec<u8> {
        let mut cursor = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut cursor, spec).expect("writer");
        for sample in samples {
            writer.write_sample(*sample).expect("write");
        }
        writer.finalize().expect("finalize");
        cursor.into_inner()
    }

    fn spec(channels: u16, bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 16_000,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    #[test]
    fn float_full_scale_and_integer_widths() {
        let float = spec(1, 32, hound::SampleFormat::Float);
        let decoded = decode_bytes(&wav_of(float, &[1.0_f32, -1.0, 0.5, 2.0, -2.0])).unwrap();
        assert_eq!(decoded.samples, [32_767, -32_767, 16_384, 32_767, -32_768]);
        let wide = spec(1, 24, hound::SampleFormat::Int);
        let decoded = decode_bytes(&wav_of(wide, &[8_388_607_i32, -8_388_608, 256])).unwrap();
        assert_eq!(decoded.samples, [32_767, -32_768, 1]);
        let narrow = spec(1, 8, hound::SampleFormat::Int);
        let decoded = decode_bytes(&wav_of(narrow, &[127_i8, -128, 1])).unwrap();
        assert_eq!(decoded.samples, [32_512, -32_768, 256]);
    }

    #[test]
    fn nan_and_infinite_samples_are_refused() {
        let float = spec(2, 32, hound::SampleFormat::Float);
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let bytes = wav_of(float, &[0.1_f32, bad]);
            assert!(matches!(decode_bytes(&bytes), Err(WavError::NotFinite)));
        }
    }

    #[test]
    fn not_a_wav_is_unreadable() {
        let error = decode_bytes(b"RIFF but not really").unwrap_err();
        assert!(matches!(error, WavError::Unreadable(_)), "{error}");
    }

    proptest! {
        #[test]
        fn mono_16_bit_comes_back_exactly(
            samples in proptest::collection::vec(any::<i16>(), 0..2_000),
            sample_rate in 8_000_u32..=48_000,
        ) {
            let decoded = decode_bytes(&encode_mono16(&samples, sample_rate)).unwrap();
            prop_assert_eq!(decoded.sample_rate, sample_rate);
            prop_assert_eq!(decoded.samples, samples);
        }

        #[test]
        fn stereo_16_bit_is_the_mean_of_its_channels(
            frames in proptest::collection::vec((any::<i16>(), any::<i16>()), 0..500),
        ) {
            let interleaved: Vec<i16> = frames.iter().flat_map(|&(l, r)| [l, r]).collect();
            let bytes = wav_of(spec(2, 16, hound::SampleFormat::Int), &interleaved);
            let decoded = decode_bytes(&bytes).unwrap();
            let means: Vec<i16> = frames
                .iter()
                .map(|&(l, r)| ((i32::from(l) + i32::from(r)) / 2) as i16)
                .collect();
            prop_assert_eq!(decoded.samples, means);
        }

        #[test]
        fn finite_floats_scale_by_32767_and_stay_in_range(
            samples in proptest::collection::vec(-4.0_f32..4.0, 0..500),
        ) {
            let bytes = wav_of(spec(1, 32, hound::SampleFormat::Float), &samples);
            let decoded = decode_bytes(&bytes).unwrap();
            prop_assert_eq!(decoded.samples.len(), samples.len());
            for (float, int) in samples.iter().zip(&decoded.samples) {
                let expected = f64::from(*float) * 32_767.0;
                let expected = expected.clamp(-32_768.0, 32_767.0);
                prop_assert!((f64::from(*int) - expected).abs() <= 0.5 + 1e-3, "{float} -> {int}");
            }
        }

        #[test]
        fn any_bytes_decode_or_fail_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut wav = b"RIFF\x00\x10\x00\x00WAVEfmt ".to_vec();
            wav.extend(bytes);
            let _ = decode_bytes(&wav);
        }
    }
}
