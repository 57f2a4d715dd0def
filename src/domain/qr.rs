//! QR codes as PNG images (ADM-09): the `qrcode` crate lays out the modules, the `png` crate
//! writes an 8-bit grayscale image with a quiet zone, so any phone camera can read it.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module: 8 px keeps a 300-character URL (version ~10, 57 modules) around
/// 520 px, comfortable for a phone camera and a printed page.
const MODULE_PX: usize = 8;
/// The quiet zone the QR standard asks for, in modules.
const QUIET_MODULES: usize = 4;

/// `text` as a PNG QR code (error correction M), or why it could not be made.
pub fn png(text: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| format!("QR encoding failed: {e}"))?;
    let modules = code.width();
    let dark: Vec<bool> = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    let side = (modules + 2 * QUIET_MODULES) * MODULE_PX;
    let mut pixels = vec![255u8; side * side];
    for (i, is_dark) in dark.iter().enumerate() {
        if !*is_dark {
            continue;
        }
        let (mx, my) = (i % modules, i / modules);
        let (x0, y0) = (
            (mx + QUIET_MODULES) * MODULE_PX,
            (my + QUIET_MODULES) * MODULE_PX,
        );
        for y in y0..y0 + MODULE_PX {
            if let Some(row) = pixels.get_mut(y * side + x0..y * side + x0 + MODULE_PX) {
                row.fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let side = u32::try_from(side).map_err(|_| "QR image too large".to_owned())?;
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| format!("PNG header: {e}"))?;
        w.write_image_data(&pixels)
            .map_err(|e| format!("PNG data: {e}"))?;
        w.finish().map_err(|e| format!("PNG end: {e}"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_becomes_a_png_with_a_quiet_zone() {
        let img = png("http://example.com/r?rand_str=abc&timestamp=1&user_id=2").expect("png");
        assert_eq!(img.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]));
        let decoder = png::Decoder::new(std::io::Cursor::new(img));
        let reader = decoder.read_info().expect("info");
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width as usize % MODULE_PX, 0);
    }

    #[test]
    fn text_too_long_for_any_qr_version_is_an_error() {
        assert!(png(&"x".repeat(8000)).is_err());
    }
}
