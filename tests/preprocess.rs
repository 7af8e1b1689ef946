//! Image decoding and CLIP preprocessing against numbers from the reference stack: Pillow 13.0.0 +
//! transformers 5.23.0 `CLIPImageProcessorPil` (the PIL-based CLIPImageProcessor). No Python at run time:
//! the goldens are files (with their provenance) or values quoted below.

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use webclip::error::Error;
use webclip::image::{decode, load, preprocess, PreprocessConfig, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD};

/// The bytes of `<dir>/<name>` under the repository root; a missing file fails the test, naming where it looked.
fn repo_file(dir: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e} (a file of the repository)", path.display()))
}

fn fixture(name: &str) -> Vec<u8> {
    repo_file("tests/fixtures/images", name)
}

/// A reference file from tests/assets (provenance in tests/assets/README.md).
fn asset(name: &str) -> Vec<u8> {
    repo_file("tests/assets", name)
}

fn png(width: u32, height: u32, data: &[u8], color: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(data, width, height, color).expect("PNG encoding");
    out
}

/// The value CLIPImageProcessor gives a u8 sample in channel c: (u8 as f64 / 255 → f32 - mean) / std in f32.
fn clip_value(v: u8, c: usize) -> f32 {
    ((f64::from(v) * (1.0 / 255.0)) as f32 - OPENAI_CLIP_MEAN[c]) / OPENAI_CLIP_STD[c]
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn franz_kafka_matches_original_clip_preprocessing() {
    let bytes = asset("preprocess/franz-kafka.jpg");
    let got = load(&bytes, "franz-kafka.jpg", &PreprocessConfig::default()).expect("decode + preprocess");
    let npy = asset("preprocess/expected_preprocessed_image.npy");
    let npy = npyz::NpyFile::new(&npy[..]).expect("a valid .npy");
    assert_eq!(npy.shape(), &[1, 3, 224, 224]);
    let expected: Vec<f32> = npy.into_vec().expect("f32 data");
    assert_eq!((got.height, got.width), (224, 224));
    let diff = max_abs_diff(&got.data, &expected);
    assert!(diff <= 1e-5, "max |webclip - CLIP| = {diff} (budget 1e-5)");
}

#[test]
fn openai_preprocessor_config_is_clip_default() {
    let bytes = asset("clip-vit-base-patch32/preprocessor_config.json");
    let cfg = PreprocessConfig::from_json(&bytes, "preprocessor_config.json").expect("parses");
    assert_eq!(cfg, PreprocessConfig::clip_default(224));
}

#[test]
fn old_and_new_config_forms() {
    let old = br#"{"crop_size": 224, "do_center_crop": true, "do_normalize": true, "do_resize": true,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}"#;
    let new = br#"{"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}}"#;
    let default = PreprocessConfig::clip_default(224);
    assert_eq!(PreprocessConfig::from_json(old, "old.json").unwrap(), default);
    assert_eq!(PreprocessConfig::from_json(new, "new.json").unwrap(), default);
    assert_eq!(PreprocessConfig::from_json(b"{}", "empty.json").unwrap(), default);

    let odd = br#"{"size": 336, "crop_size": [300, 280], "do_rescale": false, "image_mean": 0.5}"#;
    let cfg = PreprocessConfig::from_json(odd, "odd.json").unwrap();
    assert_eq!((cfg.shortest_edge, cfg.crop_height, cfg.crop_width, cfg.do_rescale), (336, 300, 280, false));
    assert_eq!(cfg.image_mean, [0.5; 3]);

    let written = PreprocessConfig::clip_default(336).to_json();
    assert!(written.contains("\"shortest_edge\": 336") && written.contains("\"height\": 336"), "{written}");
    assert_eq!(PreprocessConfig::from_json(written.as_bytes(), "w.json").unwrap(), PreprocessConfig::clip_default(336));

    match PreprocessConfig::from_json(b"{\"size\": \"big\"}", "bad.json") {
        Err(Error::Config { file, field, .. }) => assert_eq!((file.as_str(), field.as_str()), ("bad.json", "size")),
        other => panic!("expected a Config error naming size, got {other:?}"),
    }
    assert!(matches!(PreprocessConfig::from_json(b"{not json", "x.json"), Err(Error::Json { .. })));
}

/// Decode fixture `name` and its Pillow reference `STEM.pil.png` (tests/fixtures/images/README.md): same size,
/// every sample equal.
fn assert_decodes_like_pillow(name: &str) {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let got = decode(&fixture(name), name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = decode(&fixture(&format!("{stem}.pil.png")), stem).expect("the reference PNG decodes");
    assert_eq!(got.dimensions(), want.dimensions(), "{name}: (width, height) after orientation");
    let diffs: Vec<u8> =
        got.as_raw().iter().zip(want.as_raw()).map(|(a, b)| a.abs_diff(*b)).filter(|&d| d > 0).collect();
    let max = diffs.iter().max().copied().unwrap_or(0);
    assert!(diffs.is_empty(), "{name}: {} samples differ from Pillow's decode, by up to {max}", diffs.len());
}

#[test]
fn jpeg_fixtures_decode_like_pillow() {
    for name in ["cmyk.jpg", "progressive_420_rst.jpg", "baseline_422.jpg", "gray.jpg"] {
        assert_decodes_like_pillow(name);
    }
}

#[test]
fn jpeg_coefficients_overflowing_16_bits_decode_like_pillow() {
    // libjpeg-turbo's x86 SIMD IDCT (what Pillow runs) wraps and saturates in 16 bits. The C arithmetic webclip
    // used before differed in 117 samples of this file, by up to 255 (Pillow's hopper_bad_exif.jpg: 132 samples);
    // libjpeg-turbo's own C IDCT (JSIMD_FORCENONE=1) in 1533.
    assert_decodes_like_pillow("gray_rst63_overflow.jpg");
}

#[test]
fn short_jpeg_segments_are_ignored_like_libjpeg() {
    // An Adobe APP14 shorter than 12 bytes (zune-jpeg refused the file) and an APP3 whose length field is 0.
    assert_decodes_like_pillow("short_app14.jpg");
    assert_decodes_like_pillow("app_length_0.jpg");
}

#[test]
fn orientation_is_found_where_pillow_finds_it() {
    for name in [
        "raw_profile_o6.png",     // ImageMagick's zTXt "Raw profile type exif"
        "xmp_o8.png",             // iTXt XML:com.adobe.xmp
        "exif_after_idat_o3.png", // eXIf after IDAT beats the raw profile and the XMP
        "exif_prefix_o3.webp",    // EXIF chunk starting with "Exif\0\0"
        "xmp_o5.webp",            // XMP chunk
        "xmp_o6.jpg",             // XMP APP1, no EXIF
        "rgb_lzw_o6.tif",         // Orientation tag of the TIFF's first IFD
    ] {
        assert_decodes_like_pillow(name);
    }
}

#[test]
fn gif_without_a_colour_table_is_grayscale_like_pillow() {
    assert_decodes_like_pillow("no_palette.gif");
}

#[test]
fn sixteen_bit_png_reduces_like_pillow() {
    // I;16 clamps at 255; RGB, RGBA and LA keep the high byte.
    for name in ["gray16.png", "rgb16.png", "rgba16.png", "la16.png"] {
        assert_decodes_like_pillow(name);
    }
}

#[test]
fn rgb_colour_key_is_transparency_as_in_transformers() {
    // Pillow opens an RGB PNG with a tRNS colour key as mode RGB, but transformers 5.24's convert_to_rgb composites
    // any image with info["transparency"] on white: CLIPImageProcessorPil gives (255, 255, 255) at the key's
    // pixels (checked with transformers 5.24.0 + Pillow 13.0.0; the reference was made that way).
    assert_decodes_like_pillow("rgb_colour_key.png");
}

#[test]
fn bmp_and_tiff_decode_like_pillow() {
    for name in ["rgb24.bmp", "palette8.bmp", "rgb_raw.tif", "gray16_tiff.tif", "premultiplied.tif"] {
        assert_decodes_like_pillow(name);
    }
}

#[test]
fn grayscale_png_is_repeated_into_rgb() {
    let gray: Vec<u8> = (0..12 * 7).map(|i| (i * 3) as u8).collect();
    let img = decode(&png(12, 7, &gray, ExtendedColorType::L8), "gray.png").unwrap();
    assert_eq!(img.dimensions(), (12, 7));
    for (p, &g) in img.pixels().zip(&gray) {
        assert_eq!(p.0, [g, g, g]);
    }
}

#[test]
fn rgba_png_is_composited_on_white_like_pillow() {
    // Pillow 13: convert_to_rgb (alpha_composite over opaque white) of these RGBA pixels gives
    // (227, 177, 152), (255, 255, 255), (10, 20, 30), (255, 255, 255).
    let rgba = [200, 100, 50, 128, 0, 0, 0, 0, 10, 20, 30, 255, 255, 255, 255, 1];
    let img = decode(&png(4, 1, &rgba, ExtendedColorType::Rgba8), "rgba.png").unwrap();
    assert_eq!(img.as_raw(), &[227, 177, 152, 255, 255, 255, 10, 20, 30, 255, 255, 255]);
    // LA (gray + alpha) goes the same way.
    let img = decode(&png(2, 1, &[200, 128, 7, 0], ExtendedColorType::La8), "la.png").unwrap();
    assert_eq!(img.as_raw(), &[227, 227, 227, 255, 255, 255]);
}

#[test]
fn sixteen_bit_png_samples() {
    // Pillow reads 16-bit RGB/RGBA PNGs with its "RGB;16B" unpacker: the high byte. 0x01FF → 1, 0xFF00 → 255.
    let samples: [u16; 6] = [0x0000, 0x01FF, 0x7FFF, 0x8000, 0xFF00, 0xFFFF];
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_ne_bytes()).collect();
    let img = decode(&png(2, 1, &bytes, ExtendedColorType::Rgb16), "rgb16.png").unwrap();
    assert_eq!(img.as_raw(), &[0, 1, 127, 128, 255, 255]);
    // 16-bit grayscale is Pillow's I;16, whose conversion to RGB clamps: 0x00FE → 254, 0x0100 and up → 255.
    let gray: Vec<u8> = [0x00FEu16, 0x0100, 0x8040].iter().flat_map(|s| s.to_ne_bytes()).collect();
    let img = decode(&png(3, 1, &gray, ExtendedColorType::L16), "gray16.png").unwrap();
    assert_eq!(img.as_raw(), &[254, 254, 254, 255, 255, 255, 255, 255, 255]);
}

#[test]
fn image_smaller_than_the_crop_is_upscaled_like_hf() {
    // A 10x6 image, pixel (x, y) = (25x, 40y, 128 when x + y is odd else 0), through CLIPImageProcessorPil()
    // (shortest edge 224 → 373x224, crop 224): values quoted from transformers 5.23.0.
    let rgb: Vec<u8> =
        (0..6u8).flat_map(|y| (0..10u8).flat_map(move |x| [x * 25, y * 40, ((x + y) % 2) * 128])).collect();
    let bytes = png(10, 6, &rgb, ExtendedColorType::Rgb8);
    let px = load(&bytes, "small.png", &PreprocessConfig::default()).unwrap();
    assert_eq!((px.height, px.width, px.data.len()), (224, 224, 3 * 224 * 224));
    let at = |c: usize, y: usize, x: usize| px.data[c * 224 * 224 + y * 224 + x];
    let expect = [
        ((0, 0), [-1.2521207, -1.7520971, -0.5559154]),
        ((112, 112), [-0.14264035, -0.23631251, -0.57013553]),
        ((223, 223), [0.93764323, 1.3244953, -0.65545595]),
        ((17, 200), [0.7040684, -1.7520971, 0.26884836]),
    ];
    for ((y, x), want) in expect {
        for (c, want) in want.into_iter().enumerate() {
            assert!((at(c, y, x) - want).abs() <= 1e-6, "({c}, {y}, {x}): {} vs {want}", at(c, y, x));
        }
    }
    let sum: f64 = px.data.iter().map(|&v| f64::from(v)).sum();
    assert!((sum - -48646.688722021645).abs() < 1e-3, "sum {sum}");
}

#[test]
fn crop_larger_than_the_image_pads_with_zero_pixels() {
    // transformers' center_crop pads with 0 (before rescale/normalize) around a too-small image. The 4x4 top-left
    // of the image above, shortest edge 3, crop 6 high x 5 wide: the red plane from transformers 5.23.0.
    let rgb: Vec<u8> =
        (0..4u8).flat_map(|y| (0..4u8).flat_map(move |x| [x * 25, y * 40, ((x + y) % 2) * 128])).collect();
    let img = decode(&png(4, 4, &rgb, ExtendedColorType::Rgb8), "tiny.png").unwrap();
    let cfg = PreprocessConfig::from_json(
        br#"{"size": {"shortest_edge": 3}, "crop_size": {"height": 6, "width": 5}}"#,
        "t.json",
    )
    .unwrap();
    let px = preprocess(&img, &cfg);
    assert_eq!((px.height, px.width), (6, 5));
    let pad = clip_value(0, 0);
    let inner = [-1.7192703, -1.2375224, -0.7703726];
    for y in 0..6 {
        for x in 0..5 {
            let want = if (2..5).contains(&y) && (1..4).contains(&x) { inner[x - 1] } else { pad };
            assert!((px.data[y * 5 + x] - want).abs() <= 1e-6, "({y}, {x}): {} vs {want}", px.data[y * 5 + x]);
        }
    }
}

/// A JPEG whose APP1 carries EXIF orientation `o` (a big-endian TIFF with one IFD entry, tag 0x0112).
fn jpeg_with_orientation(width: u32, height: u32, rgb: &[u8], o: u8) -> Vec<u8> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 95).write_image(rgb, width, height, ExtendedColorType::Rgb8).unwrap();
    let mut tiff = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0, 0, 0, 0, 0]);
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((tiff.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(&tiff);
    [&jpeg[..2], &app1[..], &jpeg[2..]].concat()
}

#[test]
fn exif_orientation_is_applied() {
    // 16 wide x 8 high: left half red, right half blue. Orientation 6 = "rotate 90° clockwise to display"
    // (PIL.ImageOps.exif_transpose uses ROTATE_270): the result is 8 wide x 16 high, red on top.
    let rgb: Vec<u8> =
        (0..8).flat_map(|_| (0..16).flat_map(|x| if x < 8 { [255, 0, 0] } else { [0, 0, 255] })).collect();
    let img = decode(&jpeg_with_orientation(16, 8, &rgb, 6), "rotated.jpg").unwrap();
    assert_eq!(img.dimensions(), (8, 16));
    let (top, bottom) = (img.get_pixel(4, 2).0, img.get_pixel(4, 13).0);
    assert!(top[0] > 200 && top[2] < 60, "top should be red, got {top:?}");
    assert!(bottom[2] > 200 && bottom[0] < 60, "bottom should be blue, got {bottom:?}");
    // Orientation 1 changes nothing.
    assert_eq!(decode(&jpeg_with_orientation(16, 8, &rgb, 1), "upright.jpg").unwrap().dimensions(), (16, 8));
}

fn expect_image_error(bytes: &[u8], name: &str, needle: &str) {
    match decode(bytes, name) {
        Err(Error::Image { source_name, detail }) => {
            assert_eq!(source_name, name);
            assert!(detail.contains(needle), "{name}: '{detail}' should mention '{needle}'");
        }
        other => panic!("{name}: expected an image error, got {:?}", other.map(|i| i.dimensions())),
    }
}

#[test]
fn broken_inputs_are_errors_not_panics() {
    let rgb: Vec<u8> = (0..32 * 32 * 3).map(|i| (i * 7 % 256) as u8).collect();
    let png_bytes = png(32, 32, &rgb, ExtendedColorType::Rgb8);
    let jpeg = jpeg_with_orientation(32, 32, &rgb, 1);
    expect_image_error(&png_bytes[..png_bytes.len() / 2], "half.png", "PNG");
    expect_image_error(&jpeg[..jpeg.len() / 2], "half.jpg", "truncated");
    expect_image_error(b"", "empty.png", "empty");
    expect_image_error(b"name,label\ncat.png,cat\n", "labels.csv", "not an image");
    expect_image_error(b"GIF89a", "stub.gif", "GIF");
    // Every prefix and a run of corrupted copies: an error or an image, never a panic.
    for bytes in [&png_bytes, &jpeg] {
        for cut in (0..bytes.len()).step_by(7) {
            let _ = decode(&bytes[..cut], "cut");
        }
        for i in (0..bytes.len()).step_by(5) {
            let mut b = bytes.clone();
            b[i] ^= 0x5A;
            let _ = decode(&b, "flipped").map(|img| preprocess(&img, &PreprocessConfig::default()));
        }
    }
}

#[test]
fn unsupported_formats_are_named_with_what_to_do() {
    // ISO-BMFF `ftyp` boxes: an iPhone HEIC, a generic HEIF listing heic, an AVIF.
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08meta";
    expect_image_error(heic, "IMG_0001.HEIC", "HEIC is not supported by webclip; convert it to JPEG or PNG");
    expect_image_error(b"\0\0\0\x14ftypmif1\0\0\0\0heic", "photo.heif", "HEIC is not supported");
    let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";
    expect_image_error(avif, "photo.avif", "AVIF is not supported by webclip; convert it to JPEG or PNG");
    // A TIFF with tiles stored one plane per channel (PlanarConfiguration 2, TileWidth): refused with a hint
    // before the tiff crate, which panics on them, runs.
    let mut tiff = b"II*\0\x08\0\0\0\x02\0".to_vec();
    tiff.extend_from_slice(&[0x1C, 0x01, 3, 0, 1, 0, 0, 0, 2, 0, 0, 0]); // 284 PlanarConfiguration = 2
    tiff.extend_from_slice(&[0x42, 0x01, 3, 0, 1, 0, 0, 0, 16, 0, 0, 0]); // 322 TileWidth = 16
    tiff.extend_from_slice(&[0; 4]);
    expect_image_error(&tiff, "planar.tif", "PlanarConfiguration 2");
}

#[test]
fn jpeg_library_messages_are_one_line() {
    // The exact decoder declines arithmetic coding (SOF9), so zune-jpeg reads the file and reports the APP3
    // length of 0 with a "\n" in its message.
    let jpeg = b"\xff\xd8\xff\xe3\x00\x00\xff\xc9\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00\xff\xd9";
    match decode(jpeg, "arith.jpg") {
        Err(Error::Image { detail, .. }) => {
            assert!(detail.contains("invalid length"), "{detail}");
            assert!(!detail.contains('\n') && !detail.contains("\\n") && !detail.contains('"'), "{detail:?}");
        }
        other => panic!("expected an image error, got {:?}", other.map(|i| i.dimensions())),
    }
}

#[test]
fn oversized_header_is_refused_before_allocating() {
    // A PNG that claims 20000 x 20000 pixels (1.2 GB as RGB) in 50 bytes.
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(&ihdr);
    bytes.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    expect_image_error(&bytes, "huge.png", "16384");
}

/// PNG's CRC-32 (so the header above is valid and only its size is wrong).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
