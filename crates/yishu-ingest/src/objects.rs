//! Attachments (R10: 非结构化数据入湖): PDF, DOCX and images kept with a resource as lake objects,
//! recognised by their bytes (not their names), with the text of PDF and DOCX extracted so the
//! catalog search finds the resource by its documents.

use std::io::Read;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_meta::attachment::{Attachment, NewAttachment};
use yishu_meta::catalog::Resource;
use yishu_types::{Error, ErrorCode};

/// Largest attachment accepted.
pub const MAX_SIZE: usize = 50 * 1024 * 1024;
/// Most text kept from one file (characters); the rest is not searchable.
const MAX_TEXT: usize = 1_000_000;
/// Most bytes a DOCX's document part may inflate to (a zip bomb stops here).
const MAX_DOCX_XML: u64 = 64 * 1024 * 1024;

/// What a file turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    pub media_type: &'static str,
    pub ext: &'static str,
    pub pages: Option<i64>,
    pub text: String,
}

fn refused(name: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidInput, format!("{name}: {why}"))
}

/// Recognises a file by its first bytes: PDF, DOCX (a zip holding `word/document.xml`), PNG,
/// JPEG, GIF, TIFF, BMP or WebP; anything else is refused with the list.
pub fn inspect(name: &str, bytes: &[u8]) -> Result<Inspected, Error> {
    if bytes.is_empty() {
        return Err(refused(name, "the file is empty"));
    }
    if bytes.len() > MAX_SIZE {
        return Err(refused(
            name,
            format!("{} bytes is more than the {MAX_SIZE} allowed", bytes.len()),
        ));
    }
    let image = |media_type, ext| Inspected {
        media_type,
        ext,
        pages: None,
        text: String::new(),
    };
    if bytes.starts_with(b"%PDF-") {
        let (pages, text) = pdf_text(name, bytes)?;
        return Ok(Inspected {
            media_type: "application/pdf",
            ext: "pdf",
            pages: Some(pages),
            text,
        });
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(Inspected {
            media_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ext: "docx",
            pages: None,
            text: docx_text(name, bytes)?,
        });
    }
    Ok(match bytes {
        [0x89, b'P', b'N', b'G', ..] => image("image/png", "png"),
        [0xFF, 0xD8, 0xFF, ..] => image("image/jpeg", "jpg"),
        [b'G', b'I', b'F', b'8', ..] => image("image/gif", "gif"),
        [b'I', b'I', 0x2A, 0x00, ..] | [b'M', b'M', 0x00, 0x2A, ..] => image("image/tiff", "tiff"),
        [b'B', b'M', ..] => image("image/bmp", "bmp"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => image("image/webp", "webp"),
        _ => {
            return Err(refused(
                name,
                "not a PDF, DOCX or image (PNG, JPEG, GIF, TIFF, BMP, WebP); \
                 tables go in as rows (CSV, XLSX, JSON, Parquet)",
            ));
        }
    })
}

fn cap(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_TEXT) {
        text.truncate(cut);
    }
    text
}

/// A PDF's pages and text. The parser is third-party code fed untrusted bytes: a panic in it
/// is caught and reported as an unreadable file.
fn pdf_text(name: &str, bytes: &[u8]) -> Result<(i64, String), Error> {
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| refused(name, "the PDF is damaged (its text cannot be read)"))?
        .map_err(|e| refused(name, format!("the PDF cannot be read: {e}")))?;
    let text = pages.join("\n");
    Ok((pages.len() as i64, cap(text)))
}

/// The text of a DOCX's body: runs joined, a line per paragraph.
fn docx_text(name: &str, bytes: &[u8]) -> Result<String, Error> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| refused(name, format!("a zip file that cannot be opened: {e}")))?;
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .map_err(|_| {
            refused(
                name,
                "a zip file but not a Word document (no word/document.xml); XLSX goes in as rows",
            )
        })?
        .take(MAX_DOCX_XML)
        .read_to_string(&mut xml)
        .map_err(|e| refused(name, format!("the document part cannot be read: {e}")))?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut out, mut in_text) = (String::new(), false);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().0 == "w:t" => in_text = true,
            Ok(Event::End(e)) if e.name().0 == "w:t" => in_text = false,
            Ok(Event::End(e)) if e.name().0 == "w:p" => out.push('\n'),
            Ok(Event::Empty(e)) if e.name().0 == "w:tab" => out.push('\t'),
            Ok(Event::Text(t)) if in_text => out.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if in_text => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                _ => out.push_str(match &*r {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                }),
            },
            Ok(Event::Eof) => break,
            Err(e) => {
                return Err(refused(
                    name,
                    format!("the document part is not well-formed XML: {e}"),
                ));
            }
            _ => {}
        }
    }
    Ok(cap(out))
}

/// Attaches a file to a resource: recognised, its text extracted (on a blocking thread), its bytes
/// stored as a lake object under the resource's table, and recorded. The same bytes twice give the
/// earlier attachment and `false`.
pub async fn attach(
    store: &Store,
    lake: &Lake,
    r: &Resource,
    name: &str,
    description: &str,
    bytes: Vec<u8>,
    by: &str,
) -> Result<(Attachment, bool), Error> {
    let name = name.trim();
    let name = if name.is_empty() { "attachment" } else { name };
    let owned = (name.to_string(), bytes);
    let (owned, seen) = tokio::task::spawn_blocking(move || {
        let seen = inspect(&owned.0, &owned.1);
        (owned, seen)
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("reading the file stopped: {e}"),
        )
    })?;
    let (name, bytes) = owned;
    let seen = seen?;
    let sum = blake3::hash(&bytes).to_hex().to_string();
    let key = format!("{}/{sum}.{}", crate::table_name(r), seen.ext);
    lake.put_object(&key, &bytes).await?;
    store
        .add_attachment(&NewAttachment {
            resource_id: r.id,
            name,
            media_type: seen.media_type.into(),
            size: bytes.len() as i64,
            checksum: format!("blake3:{sum}"),
            object_key: key,
            description: description.to_string(),
            pages: seen.pages,
            text: seen.text,
            created_by: by.to_string(),
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::inspect;

    #[test]
    fn files_are_known_by_their_bytes() {
        let png = inspect("a.png", b"\x89PNG\r\n\x1a\n....").unwrap();
        assert_eq!((png.media_type, png.text.as_str()), ("image/png", ""));
        let e = inspect("表格.pdf", b"name,id\n").unwrap_err();
        assert!(
            e.message.contains("not a PDF, DOCX or image"),
            "{}",
            e.message
        );
        assert!(
            inspect("empty.pdf", b"")
                .unwrap_err()
                .message
                .contains("empty")
        );
        let e = inspect("broken.pdf", b"%PDF-1.7\ngarbage").unwrap_err();
        assert!(
            e.message.starts_with("broken.pdf: the PDF"),
            "{}",
            e.message
        );
        let e = inspect("x.docx", b"PK\x03\x04garbage").unwrap_err();
        assert!(e.message.contains("zip"), "{}", e.message);
    }
}
