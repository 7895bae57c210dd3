//! channel-core's media decoders are public (`channel_core::media`), so their target bodies
//! live here.

use channel_core::media::audio;

/// The extensions a reply's audio file may carry; the first byte picks one, or none.
const EXTENSIONS: [&str; 7] = ["mp3", "wav", "ogg", "flac", "m4a", "aac", "bin"];
const RATE: u32 = 24_000;
const MAX_MS: u64 = 60_000;

/// An audio file an agent asked to send as a voice note: it decodes to mono PCM within the
/// length cap, or is refused with a message that names the file.
pub fn audio(data: &[u8]) {
    let Some((pick, bytes)) = data.split_first() else {
        return;
    };
    let extension = EXTENSIONS
        .get(usize::from(*pick) % (EXTENSIONS.len() + 1))
        .copied();
    match audio::decode_mono("reply.audio", bytes.to_vec(), extension, RATE, MAX_MS) {
        Ok(pcm) => {
            assert_eq!(pcm.rate, RATE);
            assert!(!pcm.samples.is_empty(), "an empty decode must be an error");
            // Resampling may round up by a block; twice the cap means the cap did not hold.
            assert!(pcm.duration_ms() <= 2 * MAX_MS, "{} ms", pcm.duration_ms());
        }
        Err(err) => {
            channel_core::testing::assert_named(&err);
            assert!(err.message.starts_with("reply.audio: "), "{err}");
        }
    }
}
