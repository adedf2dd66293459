//! Audio paths: a client's WAV chunk decoded to 16 kHz PCM (with and without
//! resampling), base64 chunking of a clip as the replay engine sends it, the
//! voice activity detector of the speech mocks.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use harness::scenario::audio::{Clip, encode_chunk, wav_bytes};
use harness::scenario::model::ChunkFormat;

fn tone(rate: u32, millis: u32) -> Vec<i16> {
    (0..rate * millis / 1000)
        .map(|i| {
            ((i as f64 / f64::from(rate) * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    for (rate, name) in [
        (16_000, "16k_identity"),
        (48_000, "48k_resampled"),
        (44_100, "44k1_resampled"),
    ] {
        let wav =
            base64::engine::general_purpose::STANDARD.encode(wav_bytes(&tone(rate, 250), rate));
        c.bench_function(&format!("audio/decode_wav_250ms_{name}"), |b| {
            b.iter(|| backend::audio::decode_chunk(black_box(&wav), Some("audio/wav")).unwrap())
        });
    }
}

fn chunking(c: &mut Criterion) {
    let clip = Clip {
        sample_rate: 16_000,
        samples: tone(16_000, 10_000),
    };
    c.bench_function("audio/chunk_10s_clip_as_wav_250ms", |b| {
        b.iter(|| {
            clip.chunks(250)
                .map(|chunk| {
                    encode_chunk(black_box(chunk), 16_000, ChunkFormat::Wav)
                        .0
                        .len()
                })
                .sum::<usize>()
        })
    });
    c.bench_function("audio/chunk_10s_clip_as_pcm_100ms", |b| {
        b.iter(|| {
            clip.chunks(100)
                .map(|chunk| {
                    encode_chunk(black_box(chunk), 16_000, ChunkFormat::Pcm)
                        .0
                        .len()
                })
                .sum::<usize>()
        })
    });
}

fn voice_activity(c: &mut Criterion) {
    let audio = tone(16_000, 1_000);
    c.bench_function("audio/vad_1s_16k", |b| {
        b.iter(|| {
            let mut vad = mocks::speech::Vad::new(mocks::speech::VadConfig::default());
            vad.push(black_box(&audio))
        })
    });
}

criterion_group!(audio, decode, chunking, voice_activity);
criterion_main!(audio);
