import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    """The QR code of `data` as an inline SVG element."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=8,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    return image.to_string(encoding="unicode")
