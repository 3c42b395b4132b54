//! Reading the gateway's inline SVG QR codes back: the dark modules are drawn as
//! one path of squares (`M{x} {y}h{w}v{h}H{x}V{y}`, as the `qrcode` crate writes
//! them); they are painted into a bitmap, which a QR decoder of its own (`rqrr`)
//! reads as a camera image would be read.

/// The text encoded in the QR code drawn by `svg`. Panics, saying why, when the
/// drawing is not one readable QR code.
pub fn decode_svg(svg: &str) -> String {
    let (width, height) = (attribute(svg, "width"), attribute(svg, "height"));
    let mut dark = vec![false; width * height];
    let mut squares = 0;
    for (x, y, w, h) in dark_squares(svg) {
        assert!(
            x + w <= width && y + h <= height,
            "a module at ({x}, {y}) lies outside the {width}×{height} drawing"
        );
        for row in y..y + h {
            dark[row * width + x..row * width + x + w].fill(true);
        }
        squares += 1;
    }
    assert!(squares > 0, "no dark modules in the SVG:\n{svg}");

    let mut image =
        rqrr::PreparedImage::prepare_from_bitmap(width, height, |x, y| dark[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(
        grids.len(),
        1,
        "expected exactly one QR code in the drawing ({squares} modules)"
    );
    let (_, content) = grids[0]
        .decode()
        .unwrap_or_else(|e| panic!("the QR code does not decode: {e:?}"));
    content
}

/// A whole-number attribute of the `<svg>` element.
fn attribute(svg: &str, name: &str) -> usize {
    let start = svg.find("<svg").expect("an <svg> element");
    let tag = &svg[start..start + svg[start..].find('>').expect("a complete <svg> tag")];
    let marker = format!(" {name}=\"");
    tag.split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no whole-number {name} on {tag}"))
}

/// The squares of the dark path as `(x, y, width, height)`.
fn dark_squares(svg: &str) -> Vec<(usize, usize, usize, usize)> {
    let path = svg
        .split("<path")
        .nth(1)
        .unwrap_or_else(|| panic!("no <path> in the SVG:\n{svg}"));
    let d = path
        .split(" d=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the path has a d attribute");
    d.split('M')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            // "{x} {y}h{w}v{h}H{x}V{y}"
            let nums: Vec<usize> = segment
                .split(|c: char| c == ' ' || c.is_ascii_alphabetic())
                .filter(|s| !s.is_empty())
                .map(|n| {
                    n.parse()
                        .unwrap_or_else(|_| panic!("not a whole number {n:?} in M{segment}"))
                })
                .collect();
            let letters: String = segment.chars().filter(char::is_ascii_alphabetic).collect();
            assert!(
                letters == "hvHV" && nums.len() == 6,
                "not a square: M{segment}"
            );
            (nums[0], nums[1], nums[2], nums[3])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_drawing_of_the_page_templates_decodes() {
        let svg = include_str!("../../auth-pages/examples/sample_qr.svg");
        let text = decode_svg(svg);
        assert!(text.starts_with("otpauth://totp/"), "{text}");
    }

    #[test]
    fn a_drawing_without_a_qr_code_is_refused() {
        let svg = r##"<svg width="8" height="8"><path fill="#000" d="M0 0h2v2H0V0"/></svg>"##;
        assert_eq!(dark_squares(svg), vec![(0, 0, 2, 2)]);
        assert!(std::panic::catch_unwind(|| decode_svg(svg)).is_err());
    }
}
