//! SILK v3, the voice format of WeChat (and QQ): decode a voice note to PCM, encode PCM to a
//! voice note. The codec is Skype's fixed-point SILK SDK 1.0.9 (`sdk/`, BSD licence), compiled
//! by `build.rs`; this crate owns the file format around it and the one `unsafe` boundary.
//! It knows no channel and does no I/O.
//!
//! ```
//! // One second of a 440 Hz tone at 24 kHz, as WeChat sends voice.
//! let tone: Vec<i16> = (0..24_000)
//!     .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 24_000.0).sin() * 8_000.0) as i16)
//!     .collect();
//! let note = silk::encode(&tone, 24_000, 24_000).unwrap();
//! assert!(note.starts_with(b"\x02#!SILK_V3"));
//! let back = silk::decode(&note, 24_000, 60_000).unwrap();
//! assert_eq!(back.len(), 24_000);
//! ```
//!
//! The file: an optional `0x02` byte (Tencent's files have it), `#!SILK_V3`, then packets, each
//! a little-endian `i16` length and that many bytes, until the end of the file or a length of
//! `-1`.
#![allow(unsafe_code)] // The SDK's C API; every call is in `Decoder`/`Encoder` below.

mod ffi;

use std::ffi::c_void;

/// The magic after the optional Tencent byte.
pub const MAGIC: &[u8] = b"#!SILK_V3";
/// The byte Tencent's files start with.
const TENCENT: u8 = 0x02;
/// The sample rates the SDK takes and gives.
pub const RATES: [u32; 4] = [8_000, 12_000, 16_000, 24_000];
/// One frame is 20 ms; a packet holds at most five.
const FRAME_MS: u32 = 20;
const MAX_FRAMES_PER_PACKET: usize = 5;
/// The SDK's largest packet payload (`MAX_BYTES_PER_FRAME` × frames).
const MAX_PACKET_BYTES: usize = 250 * MAX_FRAMES_PER_PACKET;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SilkError {
    #[error("not SILK v3 audio (no `#!SILK_V3` header)")]
    NotSilk,
    #[error("sample rate {0} Hz: SILK takes 8000, 12000, 16000 or 24000")]
    Rate(u32),
    #[error("SILK packet {packet} at byte {offset}: the codec refused it (error {code})")]
    Packet {
        packet: usize,
        offset: usize,
        code: i32,
    },
    #[error("SILK {what}: the codec failed (error {code})")]
    Codec { what: &'static str, code: i32 },
    #[error("SILK audio holds no complete packet")]
    Empty,
    #[error("SILK audio plays longer than {max_ms} ms")]
    TooLong { max_ms: u32 },
}

/// Whether `data` starts as a SILK v3 file does.
pub fn is_silk(data: &[u8]) -> bool {
    body(data).is_some()
}

/// The packets after the header, or `None` when there is no header.
fn body(data: &[u8]) -> Option<&[u8]> {
    let data = data.strip_prefix(&[TENCENT]).unwrap_or(data);
    data.strip_prefix(MAGIC)
}

/// Decodes a SILK v3 file (Tencent's or plain) to mono PCM at `rate`, refusing audio that
/// plays longer than `max_ms`. A file cut off inside a packet gives the audio before the cut: a
/// voice note that arrived short still plays.
///
/// The cap is what bounds memory: an empty or oversized packet still decodes to a concealed
/// frame, so a few bytes of input can stand for 100 ms of output.
pub fn decode(data: &[u8], rate: u32, max_ms: u32) -> Result<Vec<i16>, SilkError> {
    let mut rest = body(data).ok_or(SilkError::NotSilk)?;
    let mut decoder = Decoder::new(rate)?;
    let max_samples = u64::from(rate) * u64::from(max_ms) / 1000;
    let mut pcm = Vec::new();
    let mut packets = 0;
    while rest.len() >= 2 {
        let len = i16::from_le_bytes([rest[0], rest[1]]);
        if len < 0 {
            break;
        }
        let len = len as usize;
        let Some(payload) = rest.get(2..2 + len) else {
            break;
        };
        let offset = data.len() - rest.len();
        decoder
            .packet(payload, &mut pcm)
            .map_err(|code| SilkError::Packet {
                packet: packets,
                offset,
                code,
            })?;
        packets += 1;
        if pcm.len() as u64 > max_samples {
            return Err(SilkError::TooLong { max_ms });
        }
        rest = &rest[2 + len..];
    }
    if packets == 0 {
        return Err(SilkError::Empty);
    }
    Ok(pcm)
}

/// Encodes mono PCM at `rate` to a SILK v3 file as WeChat writes voice notes: the Tencent byte,
/// the magic, 20 ms packets, no end marker. The last partial frame is padded with silence.
pub fn encode(samples: &[i16], rate: u32, bit_rate: u32) -> Result<Vec<u8>, SilkError> {
    let mut encoder = Encoder::new(rate, bit_rate)?;
    let frame = (rate * FRAME_MS / 1000) as usize;
    let mut out = Vec::with_capacity(samples.len() / 8 + 16);
    out.push(TENCENT);
    out.extend_from_slice(MAGIC);
    let mut padded = vec![0i16; frame];
    for chunk in samples.chunks(frame) {
        let input = if chunk.len() == frame {
            chunk
        } else {
            padded[..chunk.len()].copy_from_slice(chunk);
            &padded[..]
        };
        if let Some(packet) = encoder.frame(input)? {
            out.extend_from_slice(&(packet.len() as i16).to_le_bytes());
            out.extend_from_slice(packet);
        }
    }
    Ok(out)
}

/// How long `samples` at `rate` play, in milliseconds (WeChat's `playtime`).
pub fn duration_ms(samples: usize, rate: u32) -> u64 {
    samples as u64 * 1000 / u64::from(rate.max(1))
}

fn check_rate(rate: u32) -> Result<(), SilkError> {
    if RATES.contains(&rate) {
        Ok(())
    } else {
        Err(SilkError::Rate(rate))
    }
}

/// Codec state, as the SDK sizes it, aligned for the C structs inside it.
fn state(size: i32) -> Vec<u64> {
    vec![0u64; (size.max(0) as usize).div_ceil(8)]
}

struct Decoder {
    state: Vec<u64>,
    control: ffi::DecControl,
    frame: Vec<i16>,
}

impl Decoder {
    fn new(rate: u32) -> Result<Self, SilkError> {
        check_rate(rate)?;
        let mut size = 0i32;
        // SAFETY: writes one i32 through a valid pointer.
        let code = unsafe { ffi::SKP_Silk_SDK_Get_Decoder_Size(&mut size) };
        codec("decoder size", code)?;
        let mut state = state(size);
        // SAFETY: `state` holds at least the `size` bytes the SDK asked for, 8-aligned.
        let code = unsafe { ffi::SKP_Silk_SDK_InitDecoder(state.as_mut_ptr().cast::<c_void>()) };
        codec("decoder init", code)?;
        Ok(Self {
            state,
            control: ffi::DecControl {
                api_sample_rate: rate as i32,
                ..Default::default()
            },
            frame: vec![0; (rate * FRAME_MS / 1000) as usize * MAX_FRAMES_PER_PACKET],
        })
    }

    /// Decodes one packet (up to five frames) onto `pcm`; the error is the SDK's code.
    fn packet(&mut self, payload: &[u8], pcm: &mut Vec<i16>) -> Result<(), i32> {
        for _ in 0..MAX_FRAMES_PER_PACKET {
            let mut len = self.frame.len().min(i16::MAX as usize) as i16;
            // SAFETY: the state was initialised by InitDecoder; `payload` and `self.frame` are
            // valid for the lengths given, and the SDK writes at most `len` samples.
            let code = unsafe {
                ffi::SKP_Silk_SDK_Decode(
                    self.state.as_mut_ptr().cast::<c_void>(),
                    &mut self.control,
                    0,
                    payload.as_ptr(),
                    payload.len() as i32,
                    self.frame.as_mut_ptr(),
                    &mut len,
                )
            };
            if code != 0 {
                return Err(code);
            }
            pcm.extend_from_slice(&self.frame[..(len.max(0) as usize).min(self.frame.len())]);
            if self.control.more_internal_decoder_frames == 0 {
                break;
            }
        }
        Ok(())
    }
}

struct Encoder {
    state: Vec<u64>,
    control: ffi::EncControl,
    packet: Vec<u8>,
}

impl Encoder {
    fn new(rate: u32, bit_rate: u32) -> Result<Self, SilkError> {
        check_rate(rate)?;
        let mut size = 0i32;
        // SAFETY: writes one i32 through a valid pointer.
        let code = unsafe { ffi::SKP_Silk_SDK_Get_Encoder_Size(&mut size) };
        codec("encoder size", code)?;
        let mut state = state(size);
        let mut status = ffi::EncControl::default();
        // SAFETY: `state` holds at least the `size` bytes the SDK asked for, 8-aligned.
        let code = unsafe {
            ffi::SKP_Silk_SDK_InitEncoder(state.as_mut_ptr().cast::<c_void>(), &mut status)
        };
        codec("encoder init", code)?;
        Ok(Self {
            state,
            control: ffi::EncControl {
                api_sample_rate: rate as i32,
                max_internal_sample_rate: rate as i32,
                packet_size: (rate * FRAME_MS / 1000) as i32,
                bit_rate: bit_rate.clamp(5_000, 100_000) as i32,
                packet_loss_percentage: 0,
                complexity: 2,
                use_in_band_fec: 0,
                use_dtx: 0,
            },
            packet: vec![0; MAX_PACKET_BYTES],
        })
    }

    /// Encodes one 20 ms frame; the packet it completes, if any.
    fn frame(&mut self, samples: &[i16]) -> Result<Option<&[u8]>, SilkError> {
        let mut len = self.packet.len() as i16;
        // SAFETY: the state was initialised by InitEncoder; `samples` and `self.packet` are
        // valid for the lengths given, and the SDK writes at most `len` bytes.
        let code = unsafe {
            ffi::SKP_Silk_SDK_Encode(
                self.state.as_mut_ptr().cast::<c_void>(),
                &self.control,
                samples.as_ptr(),
                samples.len() as i32,
                self.packet.as_mut_ptr(),
                &mut len,
            )
        };
        codec("encode", code)?;
        let len = (len.max(0) as usize).min(self.packet.len());
        Ok((len > 0).then(|| &self.packet[..len]))
    }
}

fn codec(what: &'static str, code: i32) -> Result<(), SilkError> {
    if code == 0 {
        Ok(())
    } else {
        Err(SilkError::Codec { what, code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, ms: u32, hz: f32) -> Vec<i16> {
        (0..rate * ms / 1000)
            .map(|i| ((i as f32 * hz * std::f32::consts::TAU / rate as f32).sin() * 8_000.0) as i16)
            .collect()
    }

    fn rms(pcm: &[i16]) -> f64 {
        (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
    }

    #[test]
    fn a_round_trip_keeps_length_and_loudness_at_every_rate() {
        for rate in RATES {
            let pcm = tone(rate, 1_500, 300.0);
            let note = encode(&pcm, rate, 24_000).unwrap();
            let back = decode(&note, rate, 60_000).unwrap();
            assert_eq!(back.len(), pcm.len(), "{rate} Hz");
            let (a, b) = (rms(&pcm), rms(&back));
            assert!((b / a - 1.0).abs() < 0.2, "{rate} Hz: rms {a} → {b}");
        }
    }

    #[test]
    fn the_file_is_tencents_and_a_plain_one_decodes_too() {
        let note = encode(&tone(24_000, 200, 440.0), 24_000, 24_000).unwrap();
        assert_eq!(&note[..10], b"\x02#!SILK_V3");
        assert!(is_silk(&note) && is_silk(&note[1..]));
        // Plain: no Tencent byte, with the end marker and junk after it.
        let mut plain = note[1..].to_vec();
        plain.extend_from_slice(&[0xff, 0xff, 1, 2, 3]);
        assert_eq!(decode(&plain, 24_000, 60_000).unwrap().len(), 4_800);
    }

    #[test]
    fn a_cut_off_file_plays_what_it_has_and_junk_is_refused_by_name() {
        let note = encode(&tone(16_000, 1_000, 440.0), 16_000, 20_000).unwrap();
        let cut = decode(&note[..note.len() - 7], 16_000, 60_000).unwrap();
        assert_eq!(cut.len(), 16_000 - 320, "all but the last 20 ms frame");
        assert_eq!(
            decode(b"RIFF....WAVE", 24_000, 60_000),
            Err(SilkError::NotSilk)
        );
        assert_eq!(
            decode(b"\x02#!SILK_V3", 24_000, 60_000),
            Err(SilkError::Empty)
        );
        assert_eq!(decode(&note, 44_100, 60_000), Err(SilkError::Rate(44_100)));
        assert_eq!(
            encode(&[0; 10], 11_025, 24_000),
            Err(SilkError::Rate(11_025))
        );
    }

    #[test]
    fn garbage_packets_are_an_error_not_a_crash() {
        let mut junk = b"\x02#!SILK_V3".to_vec();
        for i in 0..50u8 {
            junk.extend_from_slice(&[40, 0]);
            junk.extend((0..40u8).map(|j| j.wrapping_mul(37).wrapping_add(i)));
        }
        // Either outcome is fine; neither may crash or read out of bounds.
        let _ = decode(&junk, 24_000, 60_000);
    }

    #[test]
    fn a_note_longer_than_the_cap_is_refused_before_it_fills_memory() {
        let note = encode(&tone(24_000, 1_000, 440.0), 24_000, 24_000).unwrap();
        assert_eq!(
            decode(&note, 24_000, 500),
            Err(SilkError::TooLong { max_ms: 500 })
        );
        // Empty packets are concealed frames: 2 bytes of input each, 20 ms of output each.
        let mut hollow = b"#!SILK_V3".to_vec();
        for _ in 0..100_000 {
            hollow.extend_from_slice(&[0, 0]);
        }
        assert!(matches!(
            decode(&hollow, 24_000, 60_000),
            Err(SilkError::TooLong { .. } | SilkError::Packet { .. })
        ));
    }

    #[test]
    fn playtime_is_in_milliseconds() {
        assert_eq!(duration_ms(36_000, 24_000), 1_500);
        assert_eq!(duration_ms(0, 24_000), 0);
    }
}
