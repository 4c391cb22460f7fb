"""SRTP/SRTCP decryption for one sender of one DTLS-SRTP session (pylibsrtp).

Where the profile is unknown (DTLS 1.3 hides it in EncryptedExtensions) every offered profile is
tried and the first whose packets authenticate is kept. Exact duplicate datagrams (loopback and
span-port captures hold each one twice) are recognised before decryption, so they are counted
as duplicates, never as authentication failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from confaudit.e2ee.exporter import SrtpProfile, libsrtp_profile

MAX_SRTP_PACKET = 1500
REPLAY_WINDOW = 0x7FFF  # libsrtp's largest window: captures reorder little, but loss bursts are long


class Outcome(Enum):
    DECRYPTED = "decrypted"
    AUTH_FAILED = "auth_failed"
    DUPLICATE = "duplicate"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Candidate:
    """A key this sender may be using."""

    profile: SrtpProfile
    """The SRTP protection profile."""
    key: bytes
    """Master key || master salt of the sender's direction."""


class SenderDecryptor:
    """Unprotects what one endpoint sent under one DTLS session's keys."""

    def __init__(self, candidates: list[Candidate]) -> None:
        from pylibsrtp import Policy, Session

        self._sessions = []
        for cand in candidates:
            policy = Policy(key=cand.key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=libsrtp_profile(cand.profile))
            policy.window_size = REPLAY_WINDOW
            self._sessions.append((cand, Session(policy)))
        self.profile: SrtpProfile | None = candidates[0].profile if len(candidates) == 1 else None
        self._locked = len(self._sessions) == 1

    def unprotect(self, packet: bytes, *, rtcp: bool) -> tuple[Outcome, bytes | None]:
        """Decrypt one packet: (outcome, plaintext or None)."""
        import pylibsrtp

        if len(packet) > MAX_SRTP_PACKET:
            return Outcome.AUTH_FAILED, None
        outcome = Outcome.AUTH_FAILED
        for cand, session in self._sessions:
            try:
                plain = session.unprotect_rtcp(packet) if rtcp else session.unprotect(packet)
            except pylibsrtp.Error as exc:
                if "replay" in str(exc) or "too old" in str(exc):
                    outcome = Outcome.REPLAYED
                continue
            except ValueError:
                continue
            if not self._locked:
                self._sessions = [(cand, session)]
                self.profile = cand.profile
                self._locked = True
            return Outcome.DECRYPTED, bytes(plain)
        return outcome, None
