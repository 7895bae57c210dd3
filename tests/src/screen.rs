//! Reading what a terminal shows, as a phone camera pointed at it would: QR codes drawn with
//! half-block characters.

/// Decodes the QR code drawn with `█ ▀ ▄` in `text`, light glyphs on a dark screen. `None` when
/// there is no single readable code.
pub fn decode_terminal_qr(text: &str) -> Option<String> {
    // Only the lines of the drawing: other output around it would confuse the detector.
    let rows: Vec<Vec<char>> = text
        .lines()
        .filter(|l| !l.is_empty() && l.chars().all(|c| matches!(c, '█' | '▀' | '▄' | ' ')))
        .map(|l| l.chars().collect())
        .collect();
    let width = rows.iter().map(Vec::len).max()?;
    let scale = 4;
    let mut img = image::GrayImage::from_pixel(
        (width * scale) as u32,
        (rows.len() * 2 * scale) as u32,
        image::Luma([0]),
    );
    for (y, row) in rows.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            let (top, bottom) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                _ => (false, false),
            };
            for (half, lit) in [(0, top), (1, bottom)] {
                if !lit {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (
                            (x * scale + dx) as u32,
                            ((y * 2 + half) * scale + dy) as u32,
                        );
                        img.put_pixel(px, py, image::Luma([255]));
                    }
                }
            }
        }
    }
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    match grids.as_slice() {
        [grid] => grid.decode().ok().map(|(_, content)| content),
        _ => None,
    }
}
