//! Which images the server keeps, told by their bytes (magic numbers), never by their name.

/// An image format the server accepts and serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Gif,
    Webp,
}

/// Bytes needed to tell the formats apart (WebP's `RIFF????WEBP`).
pub const SNIFF_LEN: usize = 12;

impl ImageKind {
    /// The format of a file starting with `head` (at least [`SNIFF_LEN`] bytes when the file
    /// has them), or `None` when it is no accepted image.
    pub fn sniff(head: &[u8]) -> Option<ImageKind> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageKind::Jpeg)
        } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
            Some(ImageKind::Gif)
        } else if head.len() >= SNIFF_LEN && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
            Some(ImageKind::Webp)
        } else {
            None
        }
    }

    /// The file extension the server gives it (`jpg` as in the documented paths).
    pub fn ext(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Gif => "gif",
            ImageKind::Webp => "webp",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Gif => "image/gif",
            ImageKind::Webp => "image/webp",
        }
    }
}

/// The Content-Type of a stored file that is no image, by its extension.
pub fn mime_by_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(
            ImageKind::sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01"),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\r"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(b"GIF89a\x01\0\x01\0\0\0"),
            Some(ImageKind::Gif)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\x24\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::sniff(b"RIFF\x24\0\0\0WAVEfmt "), None);
        assert_eq!(ImageKind::sniff(b"<svg xmlns="), None);
        assert_eq!(ImageKind::sniff(b"GIF8"), None);
        assert_eq!(ImageKind::sniff(b""), None);
    }

    #[test]
    fn other_files_get_a_type_by_name() {
        assert_eq!(
            mime_by_name("statics/imgs/hello.txt"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(mime_by_name("a/b.JPG"), "image/jpeg");
        assert_eq!(mime_by_name("noext"), "application/octet-stream");
    }
}
