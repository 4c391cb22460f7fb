"""Look for the canary in one decrypted RTP stream (called by the E2EE inner-payload test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from confaudit.canary.spec import CanarySpec

if TYPE_CHECKING:
    from confaudit.evidence_model import E2eeCanary

CanaryKind = Literal["audio", "video"]
"""Which half of the canary a stream was searched for (the bundle's ``streams[].canary.kind``)."""

MAX_VIDEO_FRAMES = 900
VIDEO_CODECS = ("vp8", "vp9", "h264")


@dataclass(frozen=True)
class CanaryResult:
    """The bundle's ``streams[].canary``."""

    found: bool
    """The canary was recognised in the decoded media."""
    kind: CanaryKind
    """audio | video: which half of the canary was looked for."""
    seed: str
    """The canary's seed (from canary.json)."""
    figures: dict[str, Any]
    """The measurements (AudioCanary / VideoCanary fields)."""
    summary: str
    """One line with the figures, for the reasons list and the report."""
    media_carried: bool
    """The stream carries media a canary could have been seen in (audible audio, or frames/keyframes)."""
    codec: str
    """The codec the stream was decoded with."""

    def as_dict(self) -> E2eeCanary:
        """The bundle's ``streams[].canary`` object (``media_carried`` and ``codec`` steer the verdict, not written)."""
        canary: E2eeCanary = {"found": self.found, "kind": self.kind, "seed": self.seed, "figures": self.figures,
                              "summary": self.summary}
        return canary


def decoded_luma(codec: str, packets: list[Any]) -> tuple[list[Any], int]:
    """Luma planes of the frames a decoder gets from ``packets`` (gap-free chains from keyframes) and the units fed."""
    import av

    from confaudit.wire.depacketize import decodable_chain, h264_frame, vp8_frame, vp9_frame

    units, _keys = decodable_chain(packets, {"vp8": vp8_frame, "vp9": vp9_frame, "h264": h264_frame}[codec])
    decoder: Any = av.CodecContext.create(codec, "r")  # a VideoCodecContext; PyAV's stubs give the base class
    decoder.thread_count = 1
    planes: list[Any] = []
    for data in units:
        if len(planes) >= MAX_VIDEO_FRAMES:
            break
        try:
            frames = decoder.decode(av.Packet(data))
        except (av.error.FFmpegError, ValueError):
            continue
        for frame in frames:
            if 16 <= frame.width <= 8192 and 16 <= frame.height <= 8192:
                planes.append(frame.to_ndarray(format="gray"))
    return planes, len(units)


def search_stream(packets: list[Any], codec: str | None, spec: CanarySpec, *, audible: bool = False) -> CanaryResult | None:
    """Search one stream; None when its codec is not one the canary can be read from.

    ``codec``: opus, vp8, vp9 or h264, as the inner-payload test decided or the SDP said.
    ``audible``: the Opus test found audible (non-silent, non-DTX) frames.
    """
    name = (codec or "").lower().replace("video/", "").replace("audio/", "")
    if name == "opus":
        from confaudit.canary.detect_audio import search_audio, summary as audio_summary

        found = search_audio(packets, spec)
        carried = audible or found.audible_windows >= 50
        return CanaryResult(found.found, "audio", spec.seed, found.as_dict(), audio_summary(found), carried, "opus")
    if name in VIDEO_CODECS:
        from confaudit.canary.detect_video import search_frames, summary as video_summary

        planes, units = decoded_luma(name, packets)
        video = search_frames(planes, spec)
        return CanaryResult(video.found, "video", spec.seed, {**video.as_dict(), "frames_fed": units},
                            video_summary(video), units >= 10, name)
    return None
