//! Media types of stored originals, sniffed from their first bytes.
//!
//! Pure: callers pass the leading bytes and the file name. The magic bytes
//! win over the file name, because scanners and portals mislabel files.

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_LEN: usize = 16;

/// The media type for a file starting with `head` and named `file_name`.
pub fn sniff(head: &[u8], file_name: &str) -> &'static str {
    let magic: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"II*\0", "image/tiff"),
        (b"MM\0*", "image/tiff"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"PK\x03\x04", "application/zip"),
        (b"<?xml", "application/xml"),
    ];
    for (prefix, media_type) in magic {
        if head.starts_with(prefix) {
            if *media_type == "application/zip" {
                return by_extension(file_name).unwrap_or(media_type);
            }
            return media_type;
        }
    }
    by_extension(file_name).unwrap_or("application/octet-stream")
}

fn by_extension(file_name: &str) -> Option<&'static str> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "tif" | "tiff" => "image/tiff",
        "txt" => "text/plain",
        "xml" => "application/xml",
        "json" => "application/json",
        "eml" => "message/rfc822",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "zip" => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_wins_over_name() {
        assert_eq!(sniff(b"%PDF-1.7\n", "scan.jpg"), "application/pdf");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0", "x.pdf"), "image/jpeg");
        assert_eq!(sniff(b"hello", "notes.txt"), "text/plain");
        assert_eq!(sniff(b"hello", "noext"), "application/octet-stream");
        assert_eq!(sniff(b"PK\x03\x04", "brief.docx"), by_extension("a.docx").unwrap());
    }
}
