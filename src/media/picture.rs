//! What is done to an image's bytes: sniffing its type from the content, reading its size before
//! decoding it, rewriting it without metadata, and making its WebP variants and BlurHash.
//!
//! Everything here is synchronous and CPU-bound; callers run it on the blocking pool under the
//! media semaphore.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, imageops::FilterType};

/// The image types accepted, recognised by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
    /// AVIF.
    Avif,
}

impl Format {
    /// Every accepted type.
    pub const ALL: [Format; 4] = [Format::Jpeg, Format::Png, Format::Webp, Format::Avif];

    /// The MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
        }
    }

    /// The file extension of stored originals.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
        }
    }

    /// The type a MIME type names, if it is accepted.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|f| f.content_type() == essence || (essence == "image/jpg" && *f == Self::Jpeg))
    }

    /// The type of `bytes`, judged by their content alone.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if avif::is_avif(bytes) {
            Some(Self::Avif)
        } else {
            None
        }
    }

    fn codec(self) -> Option<image::ImageFormat> {
        match self {
            Self::Jpeg => Some(image::ImageFormat::Jpeg),
            Self::Png => Some(image::ImageFormat::Png),
            Self::Webp => Some(image::ImageFormat::WebP),
            Self::Avif => None,
        }
    }
}

/// How large an image may be.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Most pixels, width × height.
    pub max_pixels: u64,
    /// Longest side.
    pub max_dimension: u32,
}

/// Why bytes are not taken as an image.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The content is none of the accepted types.
    #[error("the file is not a JPEG, PNG, WebP or AVIF image")]
    NotAnImage,
    /// The content is an image of another type than the one declared.
    #[error("the file was declared as {declared} but is {found}")]
    Mismatch {
        /// The declared MIME type.
        declared: &'static str,
        /// The sniffed MIME type.
        found: &'static str,
    },
    /// The image is wider, taller or has more pixels than allowed.
    #[error("the image is {width}×{height} pixels, more than allowed")]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The header looks right but the image cannot be read.
    #[error("the image is damaged or uses a feature that is not supported: {0}")]
    Unreadable(String),
}

/// An image that passed the checks, rewritten without its metadata.
#[derive(Debug)]
pub struct Checked {
    /// Its type.
    pub format: Format,
    /// Width in pixels, upright.
    pub width: u32,
    /// Height in pixels, upright.
    pub height: u32,
    /// A BlurHash, for the types that can be decoded here.
    pub blur_hash: Option<String>,
    /// The image without EXIF (GPS included), XMP or comments, turned upright.
    pub bytes: Vec<u8>,
}

/// Quality of the re-encoded JPEG and WebP originals.
const ORIGINAL_QUALITY: u8 = 90;
/// Quality of the WebP variants.
const VARIANT_QUALITY: f32 = 80.0;

/// Checks that `bytes` are an image of the `declared` type within `bounds`, and rewrites it
/// without metadata. The size is read from the header before anything is decoded, so a
/// decompression bomb is refused without allocating its pixels.
///
/// # Errors
/// A [`Refusal`] saying what is wrong with the file.
pub fn check(bytes: &[u8], declared: Format, bounds: Bounds) -> Result<Checked, Refusal> {
    let format = Format::sniff(bytes).ok_or(Refusal::NotAnImage)?;
    if format != declared {
        return Err(Refusal::Mismatch { declared: declared.content_type(), found: format.content_type() });
    }
    let Some(codec) = format.codec() else { return avif::check(bytes, bounds) };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), codec)
        .into_dimensions()
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    within(width, height, bounds)?;
    let image = decode(bytes, codec, bounds).map_err(|e| Refusal::Unreadable(e.to_string()))?;
    let bytes = encode_original(&image, format).map_err(|e| Refusal::Unreadable(e.to_string()))?;
    Ok(Checked { format, width: image.width(), height: image.height(), blur_hash: blur_hash(&image), bytes })
}

fn within(width: u32, height: u32, bounds: Bounds) -> Result<(), Refusal> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(Refusal::Unreadable("the image has no pixels".to_owned()));
    }
    if width > bounds.max_dimension || height > bounds.max_dimension || pixels > bounds.max_pixels {
        return Err(Refusal::TooLarge { width, height });
    }
    Ok(())
}

/// Decodes an image already known to be within `bounds`, turned upright by its EXIF orientation.
fn decode(bytes: &[u8], codec: image::ImageFormat, bounds: Bounds) -> image::ImageResult<DynamicImage> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(bounds.max_dimension);
    limits.max_image_height = Some(bounds.max_dimension);
    limits.max_alloc = Some(bounds.max_pixels.saturating_mul(4).saturating_add(64 << 20));
    let mut reader = ImageReader::with_format(Cursor::new(bytes), codec);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn encode_original(image: &DynamicImage, format: Format) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        Format::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, ORIGINAL_QUALITY);
            DynamicImage::ImageRgb8(image.to_rgb8()).write_with_encoder(encoder)?;
        }
        Format::Png => {
            let encoder = image::codecs::png::PngEncoder::new(&mut out);
            let image = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            image.write_with_encoder(encoder)?;
        }
        Format::Webp => out = webp(image, f32::from(ORIGINAL_QUALITY))?,
        Format::Avif => anyhow::bail!("AVIF is rewritten, not re-encoded"),
    }
    Ok(out)
}

fn webp(image: &DynamicImage, quality: f32) -> anyhow::Result<Vec<u8>> {
    let rgba = image.to_rgba8();
    let encoded = webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height())
        .encode_simple(false, quality)
        .map_err(|e| anyhow::anyhow!("WebP encoding failed: {e:?}"))?;
    Ok(encoded.to_vec())
}

fn blur_hash(image: &DynamicImage) -> Option<String> {
    let small = image.thumbnail(32, 32).to_rgba8();
    blurhash::encode(4, 3, small.width(), small.height(), small.as_raw()).ok()
}

/// WebP variants of a checked image, one per width in `widths` narrower than the image, as
/// `(width, bytes)`. AVIF originals get none (they are served as they are).
///
/// # Errors
/// When the image cannot be decoded or a variant encoded.
pub fn variants(bytes: &[u8], format: Format, widths: &[u32], bounds: Bounds) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
    let Some(codec) = format.codec() else { return Ok(Vec::new()) };
    let image = decode(bytes, codec, bounds)?;
    widths
        .iter()
        .filter(|&&width| width < image.width())
        .map(|&width| Ok((width, webp(&image.resize(width, u32::MAX, FilterType::CatmullRom), VARIANT_QUALITY)?)))
        .collect()
}

/// A generated placeholder picture, `width`×`height` WebP: a soft vertical gradient of
/// `colour` with a lighter panel whose place depends on `view`, and its BlurHash.
///
/// # Errors
/// When encoding fails.
pub fn placeholder(width: u32, height: u32, colour: [u8; 3], view: u32) -> anyhow::Result<(Vec<u8>, String)> {
    let panel_top = height / 6 + view * height / 12;
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        let shade = 0.75 + 0.35 * (y as f32 / height as f32);
        let inside = x > width / 5 && x < width - width / 5 && y > panel_top && y < panel_top + height / 2;
        let lift = if inside { 1.25 } else { 1.0 };
        let channel = |c: u8| (f32::from(c) * shade * lift).clamp(0.0, 255.0) as u8;
        image::Rgba([channel(colour[0]), channel(colour[1]), channel(colour[2]), 255])
    });
    let image = DynamicImage::ImageRgba8(image);
    Ok((webp(&image, VARIANT_QUALITY)?, blur_hash(&image).unwrap_or_default()))
}

/// Just enough of ISO-BMFF (HEIF) to check an AVIF file: its brand, its size from the `ispe`
/// property, and where its `Exif` and XMP items are, so they can be blanked in place.
mod avif {
    use std::ops::Range;

    use super::{Bounds, Checked, Format, Refusal, within};

    type Boxes = Vec<([u8; 4], Range<usize>)>;

    /// Whether the file starts with an `ftyp` box naming an AVIF brand (the rest may be broken).
    pub(super) fn is_avif(bytes: &[u8]) -> bool {
        let Some(size) = be(bytes, 0, 4).and_then(|n| usize::try_from(n).ok()) else { return false };
        let Some(body) = bytes.get(8..size.max(8)) else { return false };
        bytes.get(4..8) == Some(b"ftyp")
            && body.chunks_exact(4).enumerate().any(|(i, brand)| i != 1 && (brand == b"avif" || brand == b"avis"))
    }

    pub(super) fn check(bytes: &[u8], bounds: Bounds) -> Result<Checked, Refusal> {
        let unreadable = || Refusal::Unreadable("the AVIF container is malformed".to_owned());
        let top = children(bytes, 0..bytes.len()).ok_or_else(unreadable)?;
        let meta = find(&top, b"meta").ok_or_else(unreadable)?;
        let meta = children(bytes, meta.start + 4..meta.end).ok_or_else(unreadable)?;
        let (width, height) = find(&meta, b"iprp")
            .and_then(|p| children(bytes, p))
            .and_then(|p| find(&p, b"ipco"))
            .and_then(|c| children(bytes, c))
            .and_then(|c| {
                c.iter()
                    .filter(|(kind, _)| kind == b"ispe")
                    .filter_map(|(_, body)| {
                        Some((be(bytes, body.start + 4, 4)? as u32, be(bytes, body.start + 8, 4)? as u32))
                    })
                    .max_by_key(|&(w, h)| u64::from(w) * u64::from(h))
            })
            .ok_or_else(unreadable)?;
        within(width, height, bounds)?;
        let mut clean = bytes.to_vec();
        let metadata = metadata_items(bytes, &meta).ok_or_else(unreadable)?;
        if !metadata.is_empty() {
            let iloc = find(&meta, b"iloc").ok_or_else(unreadable)?;
            for extent in extents(bytes, iloc, &metadata).ok_or_else(unreadable)? {
                clean.get_mut(extent).ok_or_else(unreadable)?.fill(0);
            }
        }
        Ok(Checked { format: Format::Avif, width, height, blur_hash: None, bytes: clean })
    }

    /// Ids of the `Exif` and `mime` (XMP) items.
    fn metadata_items(bytes: &[u8], meta: &Boxes) -> Option<Vec<u64>> {
        let Some(iinf) = find(meta, b"iinf") else { return Some(Vec::new()) };
        let version = *bytes.get(iinf.start)?;
        let entries = iinf.start + 4 + if version == 0 { 2 } else { 4 };
        let mut ids = Vec::new();
        for (kind, body) in children(bytes, entries..iinf.end)? {
            let version = *bytes.get(body.start)?;
            if kind != *b"infe" || version < 2 {
                continue;
            }
            let id_len = if version == 2 { 2 } else { 4 };
            let id = be(bytes, body.start + 4, id_len)?;
            let item_type = bytes.get(body.start + 4 + id_len + 2..body.start + 4 + id_len + 6)?;
            if item_type == b"Exif" || item_type == b"mime" {
                ids.push(id);
            }
        }
        Some(ids)
    }

    /// Byte ranges of the items `ids`, which must live in the file itself.
    fn extents(bytes: &[u8], iloc: Range<usize>, ids: &[u64]) -> Option<Vec<Range<usize>>> {
        let version = *bytes.get(iloc.start)?;
        let mut at = iloc.start + 4;
        let sizes = *bytes.get(at)?;
        let more = *bytes.get(at + 1)?;
        let (offset_size, length_size) = (usize::from(sizes >> 4), usize::from(sizes & 15));
        let (base_size, index_size) = (usize::from(more >> 4), usize::from(more & 15));
        at += 2;
        let wide = if version < 2 { 2 } else { 4 };
        let count = be(bytes, at, wide)?;
        at += wide;
        let mut ranges = Vec::new();
        for _ in 0..count {
            let id = be(bytes, at, wide)?;
            at += wide;
            let method = if version == 1 || version == 2 {
                at += 2;
                be(bytes, at - 2, 2)? & 15
            } else {
                0
            };
            at += 2; // data_reference_index
            let base = be(bytes, at, base_size)?;
            at += base_size;
            let extent_count = be(bytes, at, 2)?;
            at += 2;
            for _ in 0..extent_count {
                if (version == 1 || version == 2) && index_size > 0 {
                    at += index_size;
                }
                let offset = be(bytes, at, offset_size)?;
                at += offset_size;
                let length = be(bytes, at, length_size)?;
                at += length_size;
                if ids.contains(&id) {
                    if method != 0 {
                        return None;
                    }
                    let start = usize::try_from(base.checked_add(offset)?).ok()?;
                    ranges.push(start..start.checked_add(usize::try_from(length).ok()?)?);
                }
            }
        }
        Some(ranges)
    }

    fn find(boxes: &Boxes, kind: &[u8; 4]) -> Option<Range<usize>> {
        boxes.iter().find(|(k, _)| k == kind).map(|(_, body)| body.clone())
    }

    /// The boxes within `range`, as their type and the range of their body.
    fn children(bytes: &[u8], range: Range<usize>) -> Option<Boxes> {
        let mut boxes = Vec::new();
        let mut at = range.start;
        while at + 8 <= range.end {
            let size = be(bytes, at, 4)?;
            let kind: [u8; 4] = bytes.get(at + 4..at + 8)?.try_into().ok()?;
            let (header, size) = match size {
                0 => (8, (range.end - at) as u64),
                1 => (16, be(bytes, at + 8, 8)?),
                n => (8, n),
            };
            let end = at.checked_add(usize::try_from(size).ok()?)?;
            if end > range.end || size < header as u64 {
                return None;
            }
            boxes.push((kind, at + header..end));
            at = end;
        }
        Some(boxes)
    }

    /// The big-endian number of `len` bytes at `at`.
    fn be(bytes: &[u8], at: usize, len: usize) -> Option<u64> {
        let slice = bytes.get(at..at.checked_add(len)?)?;
        Some(slice.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds { max_pixels: 4_000_000, max_dimension: 4_000 };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30])));
        let _ = image.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png);
        out
    }

    #[test]
    fn the_type_comes_from_the_bytes_not_the_name() {
        assert_eq!(Format::sniff(&png(2, 2)), Some(Format::Png));
        assert_eq!(Format::sniff(b"<html>hello</html>"), None);
        assert_eq!(check(b"GIF89a....", Format::Png, BOUNDS).err(), Some(Refusal::NotAnImage));
        assert_eq!(
            check(&png(2, 2), Format::Jpeg, BOUNDS).err(),
            Some(Refusal::Mismatch { declared: "image/jpeg", found: "image/png" })
        );
        assert_eq!(Format::from_content_type("image/JPEG"), Some(Format::Jpeg));
        assert_eq!(Format::from_content_type("image/gif"), None);
    }

    #[test]
    fn a_checked_image_is_measured_and_hashed() -> anyhow::Result<()> {
        let checked = check(&png(40, 30), Format::Png, BOUNDS)?;
        assert_eq!((checked.width, checked.height), (40, 30));
        assert!(checked.blur_hash.is_some_and(|h| h.len() >= 6));
        let variants = variants(&checked.bytes, Format::Png, &[16, 32, 64], BOUNDS)?;
        assert_eq!(variants.iter().map(|(w, _)| *w).collect::<Vec<_>>(), vec![16, 32]);
        assert!(variants.iter().all(|(_, bytes)| Format::sniff(bytes) == Some(Format::Webp)));
        Ok(())
    }

    fn full_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut with_version = vec![0, 0, 0, 0];
        with_version.extend_from_slice(body);
        plain_box(kind, &with_version)
    }

    fn plain_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// A minimal AVIF container: an `av01` item and an `Exif` item holding a location, both in
    /// `mdat`, and an `ispe` of `width`×`height`.
    fn avif(width: u32, height: u32) -> Vec<u8> {
        let picture = b"AV1-PICTURE-DATA".as_slice();
        let exif = b"Exif\0\0MM\0*GPS 48.8584N 2.2945E".as_slice();
        let ftyp = plain_box(b"ftyp", b"avif\0\0\0\0mif1avif");
        let infe = |id: u16, kind: &[u8; 4]| {
            let mut body = vec![2, 0, 0, 0];
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(kind);
            body.push(0);
            plain_box(b"infe", &body)
        };
        let mut iinf = 2u16.to_be_bytes().to_vec();
        iinf.extend(infe(1, b"av01"));
        iinf.extend(infe(2, b"Exif"));
        let iinf = full_box(b"iinf", &iinf);
        let mut ispe = width.to_be_bytes().to_vec();
        ispe.extend_from_slice(&height.to_be_bytes());
        let iprp = plain_box(b"iprp", &plain_box(b"ipco", &full_box(b"ispe", &ispe)));
        // iloc's size does not depend on the offsets it holds: build it once to measure.
        let iloc = |base: u32| {
            let mut body = vec![0x44, 0x00];
            body.extend_from_slice(&2u16.to_be_bytes());
            for (id, offset, length) in [(1u16, base, picture.len()), (2, base + picture.len() as u32, exif.len())] {
                body.extend_from_slice(&id.to_be_bytes());
                body.extend_from_slice(&[0, 0, 0, 1]);
                body.extend_from_slice(&offset.to_be_bytes());
                body.extend_from_slice(&(length as u32).to_be_bytes());
            }
            full_box(b"iloc", &body)
        };
        let meta_len = 12 + iinf.len() + iloc(0).len() + iprp.len();
        let base = (ftyp.len() + meta_len + 8) as u32;
        let mut meta = iinf.clone();
        meta.extend(iloc(base));
        meta.extend(iprp);
        let mut out = ftyp;
        out.extend(full_box(b"meta", &meta));
        let mut mdat = picture.to_vec();
        mdat.extend_from_slice(exif);
        out.extend(plain_box(b"mdat", &mdat));
        out
    }

    #[test]
    fn an_avif_is_measured_from_its_container_and_its_exif_blanked() -> anyhow::Result<()> {
        let original = avif(1200, 800);
        assert_eq!(Format::sniff(&original), Some(Format::Avif));
        let checked = check(&original, Format::Avif, BOUNDS)?;
        assert_eq!((checked.width, checked.height), (1200, 800));
        assert_eq!(checked.bytes.len(), original.len(), "rewritten in place");
        assert!(!checked.bytes.windows(3).any(|w| w == b"GPS"), "the location is blanked");
        assert!(checked.bytes.windows(16).any(|w| w == b"AV1-PICTURE-DATA"), "the picture is kept");
        assert!(variants(&checked.bytes, Format::Avif, &[320], BOUNDS)?.is_empty());
        assert_eq!(
            check(&avif(30_000, 30_000), Format::Avif, BOUNDS).err(),
            Some(Refusal::TooLarge { width: 30_000, height: 30_000 })
        );
        let mut broken = original;
        broken.truncate(60);
        assert!(matches!(check(&broken, Format::Avif, BOUNDS), Err(Refusal::Unreadable(_))));
        Ok(())
    }

    #[test]
    fn too_many_pixels_are_refused_from_the_header() {
        assert_eq!(
            check(&png(4_001, 1), Format::Png, BOUNDS).err(),
            Some(Refusal::TooLarge { width: 4_001, height: 1 })
        );
        assert_eq!(
            check(&png(2_001, 2_000), Format::Png, BOUNDS).err(),
            Some(Refusal::TooLarge { width: 2_001, height: 2_000 })
        );
    }
}
