//! Audio replies as voice notes (spec §4.1 `voice_item`): an mp3, wav, ogg, flac or m4a file,
//! or a TTS result, is decoded, made mono at 24 kHz and encoded to SILK, which WeChat shows as a
//! voice bubble with its length. Audio that does not decode, or is longer than a voice note may
//! be, goes out as a file instead.

use channel_core::ChannelError;
use channel_core::media::audio;

use super::outbound::Source;

/// WeChat records and plays voice notes at 24 kHz.
pub const RATE: u32 = 24_000;
/// SILK's bit rate for speech at 24 kHz, as WeChat's own notes use.
const BIT_RATE: u32 = 24_000;
/// WeChat's longest voice note.
pub const MAX_MS: u64 = 60_000;
/// The longest voice note we decode when one arrives: twice what WeChat records, so that a
/// full-length note with codec padding decodes and a crafted file cannot fill memory.
pub const INBOUND_MAX_MS: u32 = 2 * MAX_MS as u32;
/// `voice_item.encode_type` of SILK.
pub const ENCODE_SILK: i64 = 6;

/// A voice note ready to upload.
#[derive(Debug)]
pub struct Voice {
    pub silk: Vec<u8>,
    pub playtime_ms: u64,
}

/// `source` as a voice note, or the reason it cannot be one.
pub async fn encode(source: &Source) -> Result<Voice, ChannelError> {
    let label = source.file_name.clone();
    let bytes = source.bytes.clone();
    let mime = source.mime.clone();
    let extension = std::path::Path::new(&label)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        if mime == "audio/silk" && silk::is_silk(&bytes) {
            // Already a voice note: sent as it is, its length read by decoding it.
            let pcm = silk::decode(&bytes, RATE, MAX_MS as u32)
                .map_err(|e| ChannelError::permanent(format!("{label}: {e}")))?;
            return Ok(Voice {
                playtime_ms: silk::duration_ms(pcm.len(), RATE),
                silk: bytes,
            });
        }
        let pcm = audio::decode_mono(&label, bytes, extension.as_deref(), RATE, MAX_MS)?;
        let silk = silk::encode(&pcm.samples, RATE, BIT_RATE)
            .map_err(|e| ChannelError::permanent(format!("{label}: {e}")))?;
        Ok(Voice {
            playtime_ms: pcm.duration_ms(),
            silk,
        })
    })
    .await
    .map_err(|e| ChannelError::permanent(format!("{}: encoding voice: {e}", source.file_name)))?
}
