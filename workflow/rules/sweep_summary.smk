# A sweep's summary (workflow/sweep.smk): every condition's margins over the best player in its
# data, by rating, head to head and expected reward, in one table and one figure; a replicate
# sweep's (SWEEP_KIND replicates) adds each margin's spread and "transcends in k of n" across
# the seeds, and its figure is by seed (analysis/sweep.py's write_sweep_summary).


rule sweep_summary:
    input:
        ratings=[condition_ratings(c) for c in CONDITIONS],
        rewards=[path for paths in sweep_reward_tables().values() for path in paths],
    output:
        csv=report(
            f"results/{SWEEP}/summary.csv",
            caption="../report/sweep_table.rst",
            category="Sweep",
        ),
        png=report(
            f"results/{SWEEP}/summary.png",
            caption="../report/sweep.rst",
            category="Sweep",
        ),
        pdf=f"results/{SWEEP}/summary.pdf",
    params:
        sweep=SWEEP,
        kind=SWEEP_KIND,
        conditions={c: condition_settings(cfg) for c, cfg in CONDITIONS.items()},
        ratings={c: condition_ratings(c) for c in CONDITIONS},
        rewards=sweep_reward_tables(),
    conda:
        "../../envs/transcendence.yaml"
    log:
        f"results/{SWEEP}/logs/sweep_summary.log",
    benchmark:
        f"results/{SWEEP}/benchmarks/sweep_summary.tsv"
    script:
        "../scripts/sweep_summary.py"
