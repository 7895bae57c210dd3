//! Interactive login (QR scan and the like), whatever surface shows it: a terminal in the CLI
//! process, or the Control UI through the gateway.

use std::io::Cursor;

use base64::Engine;
use qrcode::QrCode;
use serde::{Deserialize, Serialize};

use crate::error::ChannelError;

/// What the person logging in sees and answers.
#[async_trait::async_trait]
pub trait LoginUi: Send + Sync {
    /// A QR code to scan; `url` is what it encodes.
    async fn show_qr(&self, url: &str);
    /// A progress line ("scanned, confirm on the phone").
    async fn status(&self, text: &str);
    /// Asks for a line of input (a verify code shown on the phone).
    async fn prompt(&self, question: &str) -> Result<String, ChannelError>;
}

/// How a login ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    /// The account that is now logged in (or was already).
    pub account_id: Option<String>,
    pub message: String,
    /// True when a new credential was saved and the host should restart the channel.
    pub changed: bool,
}

/// `url` as a QR code drawn with half blocks, two modules per character cell, with a quiet zone.
/// Light modules (and the quiet zone) are the printed blocks, so the code reads right on the
/// usual light-on-dark terminal.
pub fn render_terminal(url: &str) -> Result<String, ChannelError> {
    let code = QrCode::new(url.as_bytes())
        .map_err(|e| ChannelError::bad_input(format!("QR for {url:?}: {e}")))?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// `url` as a PNG QR code, as a `data:` URL for the Control UI.
pub fn render_png_data_url(url: &str) -> Result<String, ChannelError> {
    let code = QrCode::new(url.as_bytes())
        .map_err(|e| ChannelError::bad_input(format!("QR for {url:?}: {e}")))?;
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(256, 256)
        .build();
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| ChannelError::permanent(format!("encoding the QR PNG: {e}")))?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str =
        "https://liteapp.weixin.qq.com/q/7GiQu1?qrcode=0123456789abcdef0123456789abcdef&bot_type=3";

    #[test]
    fn terminal_qr_decodes_back_to_the_url() {
        let text = render_terminal(URL).expect("render");
        assert_eq!(
            imsim::screen::decode_terminal_qr(&text).as_deref(),
            Some(URL)
        );
    }

    #[test]
    fn png_qr_decodes_back_to_the_url() {
        let data_url = render_png_data_url(URL).expect("render");
        let b64 = data_url
            .strip_prefix("data:image/png;base64,")
            .expect("data url");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        let img = image::load_from_memory(&png).expect("png").to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids[0].decode().expect("decodes").1, URL);
    }
}
