"""Rule filter_dump: route each game of a dump to every rating cap it fits."""

from transcendence.data.filtering import filter_dump
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    filter_dump(sm.input[0], dict(zip(sm.params.caps, sm.output.games)), sm.output.stats, log=log,
                max_bad_share=sm.params.max_bad_share, replay_every=sm.params.replay_every)
