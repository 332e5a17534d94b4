"""The signal processing of augmentation flavours: drawn parameters applied to one signal.

Each augmentation is computed by a maintained library: librosa's phase vocoder
(``librosa.effects.time_stretch``) stretches time, scipy's 9th-order Butterworth filters
(``scipy.signal.butter``, ``sosfilt``) equalise, pedalboard's ``Reverb`` (Freeverb) reverberates,
colorednoise draws pink (1/f) noise, and scipy's STFT (``scipy.signal.stft``/``istft``) masks
frequency bands, SpecAugment-style; a time shift, a time mask and a fade are array operations
(``numpy.roll``, zeroing, a linear ramp). Every random choice was drawn before
(:meth:`casdb.audio.augment.Augment.draw`): the same parameters give the same samples.

Signals are ``(frames, channels)`` float arrays; the result may be longer or shorter (a time
stretch) and is not clipped (the writer clips).

Example:
    >>> import numpy as np
    >>> y = np.ones((1000, 1), np.float32)
    >>> out = apply(y, 16000, {"fade": {"fade_in": 0.1, "fade_out": 0.0}})
    >>> float(out[0, 0]), float(out[-1, 0]), out.shape
    (0.0, 1.0, (1000, 1))
"""

from __future__ import annotations

from typing import Any

from casdb.audio.augment import AUGMENTATIONS

STFT_FRAME = 512
"""Samples per STFT frame of the frequency mask (hop 256)."""


def apply(y, rate: int, params: dict[str, dict[str, Any]]):
    """``y`` with the augmentations of ``params`` applied, in the order of AUGMENTATIONS."""
    for name in AUGMENTATIONS:
        if name in params and len(y):
            y = _APPLY[name](y, rate, params[name])
    return y


def warm_up(names: set[str]) -> None:
    """Import and run once the augmentations ``names`` on a short signal.

    Called in the parent before worker processes are forked: librosa's first time stretch
    costs about 2 s (lazy submodules, numba compilation), which every worker would otherwise
    pay again; forked workers inherit the warmed-up state.
    """
    import numpy as np

    y = np.random.default_rng(0).standard_normal((4096, 1)).astype(np.float32) * 0.1
    params = {"time_stretch": {"rate": 1.1}, "time_shift": {"shift": 0.1, "rollover": True},
              "equalisation": {"highpass_hz": 100.0, "lowpass_hz": 4000.0, "order": 9},
              "reverb": {"room_size": 0.1, "damping": 0.5, "wet_level": 0.3, "dry_level": 0.4,
                         "width": 1.0},
              "pink_noise": {"snr_db": 20.0, "noise_seed": 0},
              "frequency_mask": {"masks": [[0.1, 0.1]]}, "time_mask": {"masks": [[0.1, 0.1]]},
              "fade": {"fade_in": 0.1, "fade_out": 0.1}}
    apply(y, 16000, {n: p for n, p in params.items() if n in names})


def time_stretch(y, rate: int, p: dict):
    import librosa
    import numpy as np

    out = librosa.effects.time_stretch(np.ascontiguousarray(y.T), rate=p["rate"])
    return np.ascontiguousarray(out.T, dtype=y.dtype)


def time_shift(y, rate: int, p: dict):
    import numpy as np

    n = int(round(p["shift"] * len(y)))
    if p["rollover"]:
        return np.roll(y, n, axis=0)
    out = np.zeros_like(y)
    if n >= 0:
        out[n:] = y[: len(y) - n]
    else:
        out[:n] = y[-n:]
    return out


def equalisation(y, rate: int, p: dict):
    import numpy as np
    from scipy.signal import butter, sosfilt

    dtype = y.dtype
    for kind in ("highpass", "lowpass"):
        cutoff = p[f"{kind}_hz"]
        if cutoff is not None:
            sos = butter(p["order"], cutoff, btype=kind, fs=rate, output="sos")
            y = sosfilt(sos, y, axis=0)
    return np.asarray(y, dtype=dtype)


def reverb(y, rate: int, p: dict):
    import numpy as np
    from pedalboard import Reverb

    effect = Reverb(room_size=p["room_size"], damping=p["damping"], wet_level=p["wet_level"],
                    dry_level=p["dry_level"], width=p["width"])
    out = effect(np.ascontiguousarray(y.T, dtype=np.float32), float(rate))
    return np.ascontiguousarray(out.T, dtype=y.dtype)


def pink_noise(y, rate: int, p: dict):
    import numpy as np
    from colorednoise import powerlaw_psd_gaussian

    if len(y) < 2:
        return y
    signal = float(np.mean(np.square(y, dtype=np.float64)))
    if signal == 0:
        return y  # no signal, no signal-to-noise ratio: silence stays silent
    rng = np.random.default_rng(p["noise_seed"])
    noise = powerlaw_psd_gaussian(1.0, (y.shape[1], len(y)), random_state=rng).T
    power = float(np.mean(np.square(noise)))
    scale = np.sqrt(signal / (power * 10 ** (p["snr_db"] / 10)))
    return (y + scale * noise).astype(y.dtype)


def frequency_mask(y, rate: int, p: dict):
    import numpy as np
    from scipy.signal import istft, stft

    frame = min(STFT_FRAME, len(y))
    if frame < 2:
        return y
    freqs, _, spec = stft(y.T, fs=rate, nperseg=frame)
    nyquist = rate / 2
    for low, width in p["masks"]:
        spec[:, (freqs >= low * nyquist) & (freqs < (low + width) * nyquist), :] = 0
    _, out = istft(spec, fs=rate, nperseg=frame)
    out = out.T[: len(y)]
    if len(out) < len(y):
        out = np.pad(out, ((0, len(y) - len(out)), (0, 0)))
    return np.ascontiguousarray(out, dtype=y.dtype)


def time_mask(y, rate: int, p: dict):
    y = y.copy()
    for start, width in p["masks"]:
        a = int(start * len(y))
        y[a: a + int(round(width * len(y)))] = 0
    return y


def fade(y, rate: int, p: dict):
    import numpy as np

    y = y.copy()
    n_in, n_out = int(round(p["fade_in"] * len(y))), int(round(p["fade_out"] * len(y)))
    if n_in:
        y[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=y.dtype)[:, None]
    if n_out:
        y[len(y) - n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=y.dtype)[:, None]
    return y


_APPLY = {
    "time_stretch": time_stretch,
    "time_shift": time_shift,
    "equalisation": equalisation,
    "reverb": reverb,
    "pink_noise": pink_noise,
    "frequency_mask": frequency_mask,
    "time_mask": time_mask,
    "fade": fade,
}
