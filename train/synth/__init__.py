"""Labelled synthetic music: MIDI composed from musical cues with known emotional correlates, rendered by
FluidSynth, with valence/arousal labels over time (see :mod:`train.synth.labels` for the mapping).

Modules: ``ensembles`` (GM programs and timbre ratings), ``plan`` (sections, changes, cues over time),
``sampling`` (plans drawn from seeds), ``labels`` (cues to valence/arousal), ``compose`` (plan to MIDI),
``render`` (MIDI to audio with FluidSynth), ``corpus`` (parallel generation and the label tables),
``demo`` (the bundled demo clip), ``cli`` (``python -m train.synth``, ``damer synth``).
"""
