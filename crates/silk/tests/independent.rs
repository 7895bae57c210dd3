//! Against an independent encoder: `fixtures/voice-1500ms.silk` was made by npm's `silk-wasm`
//! 3.7.1 (`encode(pcm, 24000)`) from 1.5 s of a voiced sound at 24 kHz (150 Hz with two
//! harmonics, swelling twice a second, RMS about 3,000). The e2e checks the other direction
//! (ours encoded, silk-wasm decoding) in the gateway.

const FIXTURE: &[u8] = include_bytes!("fixtures/voice-1500ms.silk");

fn rms(pcm: &[i16]) -> f64 {
    (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
}

#[test]
fn a_voice_note_from_another_encoder_decodes_to_its_length_and_is_audible() {
    assert!(
        FIXTURE.starts_with(b"\x02#!SILK_V3"),
        "a Tencent-style file"
    );
    let pcm = silk::decode(FIXTURE, 24_000, 60_000).expect("decodes");
    let ms = silk::duration_ms(pcm.len(), 24_000);
    assert!((1_425..=1_575).contains(&ms), "{ms} ms, want 1500 ± 5 %");
    // The source's RMS is about 3,000: a decode to near silence would pass a length check.
    let level = rms(&pcm);
    assert!(level > 2_000.0, "rms {level}");
    // At 16 kHz too: the decoder resamples.
    let narrow = silk::decode(FIXTURE, 16_000, 60_000).expect("decodes at 16 kHz");
    assert_eq!(narrow.len() * 3, pcm.len() * 2);
}

#[test]
fn our_round_trip_of_the_decoded_note_stays_audible() {
    let pcm = silk::decode(FIXTURE, 24_000, 60_000).unwrap();
    let again = silk::decode(&silk::encode(&pcm, 24_000, 24_000).unwrap(), 24_000, 60_000).unwrap();
    assert_eq!(again.len(), pcm.len());
    let (a, b) = (rms(&pcm), rms(&again));
    assert!((b / a - 1.0).abs() < 0.25, "rms {a} → {b}");
}
