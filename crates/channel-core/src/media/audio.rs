//! Audio both ways: voice notes a channel decoded become WAV, which OpenClaw's transcription
//! and every player take; an audio reply (mp3, wav, ogg, flac, m4a) becomes mono PCM at the
//! rate a network's voice format wants. Decoding is symphonia's, resampling rubato's.

use std::io::Cursor;

use rubato::Resampler;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use crate::error::ChannelError;

/// Mono PCM.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub samples: Vec<i16>,
    pub rate: u32,
}

impl Pcm {
    /// How long it plays, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(self.rate.max(1))
    }
}

/// Whether `mime` names audio this module decodes.
pub fn is_decodable(mime: &str) -> bool {
    matches!(
        mime,
        "audio/mpeg"
            | "audio/mp3"
            | "audio/wav"
            | "audio/x-wav"
            | "audio/wave"
            | "audio/ogg"
            | "audio/vorbis"
            | "audio/flac"
            | "audio/x-flac"
            | "audio/mp4"
            | "audio/m4a"
            | "audio/x-m4a"
            | "audio/aac"
    )
}

/// Decodes an audio file (`label` names it in errors; `extension` helps find the format) to
/// mono at `rate` Hz: channels are averaged, then resampled. A file longer than `max_ms` is
/// refused rather than decoded whole.
pub fn decode_mono(
    label: &str,
    bytes: Vec<u8>,
    extension: Option<&str>,
    rate: u32,
    max_ms: u64,
) -> Result<Pcm, ChannelError> {
    // The demuxers read files from anywhere; one that trips over a malformed header (fuzzing
    // found an overflow in symphonia's WAV reader) fails this file, not the gateway.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_mono_inner(label, bytes, extension, rate, max_ms)
    }))
    .unwrap_or_else(|_| {
        Err(ChannelError::permanent(format!(
            "{label}: the audio decoder failed on a malformed file"
        )))
    })
}

fn decode_mono_inner(
    label: &str,
    bytes: Vec<u8>,
    extension: Option<&str>,
    rate: u32,
    max_ms: u64,
) -> Result<Pcm, ChannelError> {
    let bad = |what: String| ChannelError::permanent(format!("{label}: {what}"));
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let stream = MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        MediaSourceStreamOptions::default(),
    );
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| bad(format!("not audio this bridge reads ({e})")))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| bad("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| bad("no audio track".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| bad(format!("no decoder for its codec ({e})")))?;
    let mut mono: Vec<f32> = Vec::new();
    let mut source_rate = 0u32;
    let mut frame = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) => return Err(bad(format!("unreadable ({e})"))),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            // One bad packet is skipped, as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(bad(format!("decoding: {e}"))),
        };
        let channels = buffer.spec().channels().count().max(1);
        source_rate = buffer.spec().rate();
        if source_rate == 0 {
            // Without a rate the length cap below could not hold.
            return Err(bad("a packet without a sample rate".into()));
        }
        frame.resize(buffer.samples_interleaved(), 0.0f32);
        buffer.copy_to_slice_interleaved(&mut frame);
        mono.extend(
            frame
                .chunks(channels)
                .map(|c| c.iter().sum::<f32>() / channels as f32),
        );
        if mono.len() as u64 * 1000 / u64::from(source_rate) > max_ms {
            return Err(bad(format!(
                "longer than {} s, the longest voice message",
                max_ms / 1000
            )));
        }
    }
    if mono.is_empty() || source_rate == 0 {
        return Err(bad("no audio in it".into()));
    }
    let resampled = if source_rate == rate {
        mono
    } else {
        resample(&mono, source_rate, rate).map_err(|e| bad(format!("resampling: {e}")))?
    };
    Ok(Pcm {
        samples: resampled
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16)
            .collect(),
        rate,
    })
}

fn resample(mono: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    let mut resampler =
        rubato::Fft::<f32>::new(from as usize, to as usize, 1024, 1, rubato::FixedSync::Both)
            .map_err(|e| e.to_string())?;
    let input = rubato::audioadapter_buffers::direct::InterleavedSlice::new(mono, 1, mono.len())
        .map_err(|e| e.to_string())?;
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(output.take_data())
}

/// A WAV file (RIFF, PCM, 16-bit, mono) of `pcm` at `rate` Hz.
pub fn wav_mono_s16(pcm: &[i16], rate: u32) -> Vec<u8> {
    let data_len = (pcm.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + pcm.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in pcm {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2.0 s at 44.1 kHz, stereo, 128 kbit/s, made by npm's lamejs 1.2.1 from a voiced tone
    /// (180 Hz left, 270 Hz right, each with two harmonics, swelling once a second).
    const MP3: &[u8] = include_bytes!("fixtures/reply-2000ms.mp3");

    fn rms(pcm: &[i16]) -> f64 {
        (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
    }

    /// A 16-bit stereo WAV at `rate`: a 440 Hz tone on the left, silence on the right.
    fn stereo_wav(rate: u32, ms: u32) -> Vec<u8> {
        let frames = rate * ms / 1000;
        let mut interleaved = Vec::new();
        for i in 0..frames {
            let t = i as f32 / rate as f32;
            interleaved.push(((t * 440.0 * std::f32::consts::TAU).sin() * 16_000.0) as i16);
            interleaved.push(0);
        }
        let mut wav = wav_mono_s16(&interleaved, rate);
        // Two channels: bytes per frame and per second double, the data is the same.
        wav[22..24].copy_from_slice(&2u16.to_le_bytes());
        wav[28..32].copy_from_slice(&(rate * 4).to_le_bytes());
        wav[32..34].copy_from_slice(&4u16.to_le_bytes());
        wav
    }

    #[test]
    fn an_mp3_reply_becomes_mono_at_the_voice_rate_with_its_length() {
        let pcm = decode_mono("reply.mp3", MP3.to_vec(), Some("mp3"), 24_000, 60_000).unwrap();
        assert_eq!(pcm.rate, 24_000);
        let ms = pcm.duration_ms();
        assert!((1_900..=2_100).contains(&ms), "{ms} ms, want 2000 ± 5 %");
        assert!(rms(&pcm.samples) > 2_000.0, "rms {}", rms(&pcm.samples));
    }

    #[test]
    fn a_stereo_wav_is_averaged_and_resampled() {
        let wav = stereo_wav(44_100, 1_000);
        let pcm = decode_mono("reply.wav", wav, None, 24_000, 60_000).unwrap();
        assert!(
            (23_900..=24_100).contains(&pcm.samples.len()),
            "{}",
            pcm.samples.len()
        );
        // The left channel's tone at half its level: 16000 / 2 / √2 ≈ 5657.
        let level = rms(&pcm.samples[1_000..23_000]);
        assert!((level - 5_657.0).abs() < 300.0, "rms {level}");
    }

    #[test]
    fn junk_too_long_and_empty_audio_are_refused_by_name() {
        let junk = decode_mono(
            "notes.mp3",
            b"hello, not audio".to_vec(),
            Some("mp3"),
            24_000,
            60_000,
        );
        assert!(junk.unwrap_err().message.starts_with("notes.mp3: "));
        let long = decode_mono("long.wav", stereo_wav(8_000, 3_000), None, 24_000, 2_000);
        assert!(long.unwrap_err().message.contains("longer than 2 s"));
        let empty = decode_mono("empty.wav", wav_mono_s16(&[], 8_000), None, 24_000, 60_000);
        assert!(empty.is_err());
    }

    #[test]
    fn a_wav_header_says_what_follows() {
        let wav = wav_mono_s16(&[0, 1, -1, i16::MAX], 24_000);
        assert_eq!(wav.len(), 44 + 8);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()), 44);
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 24_000);
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 8);
        assert_eq!(&wav[50..52], &i16::MAX.to_le_bytes());
    }
}
