# A sweep: the study (study.smk) once per condition, as one Snakemake module each, in one
# invocation. Condition c's rules are c_<rule> (p0_train) and its paths results/... become
# results/<sweep>/<c>/... (the module's replace_prefix rewrites every input, output, log and
# benchmark path, input functions' paths and report() outputs included). Then one summary of
# all conditions. CONDITIONS (name -> merged, checked configuration) comes from the Snakefile.

SWEEP = config["sweep"]["name"]

from transcendence.analysis.sweep import condition_settings
from transcendence.sweep_conditions import sweep_kind

# replicates (conditions that differ in seed alone: a summary across seeds) or conditions.
SWEEP_KIND = sweep_kind(CONDITIONS)


# The profile's per-rule settings (set-threads, set-resources, groups) name the study's rules;
# Snakemake looks them up by a rule's full name, which a module prefixes, so each condition's
# copy of a rule gets its own entry here (copied before the modules create their rules).
# Snakemake has no public call for it: this writes its resource and group settings (9.x).
def _profile_settings_for(prefixes):
    threads = workflow.resource_settings._parsed_overwrite_threads
    resources = workflow.resource_settings._parsed_overwrite_resources
    groups = dict(workflow.group_settings.overwrite_groups)
    for settings in (threads, resources, groups):
        for rule_name, value in list(settings.items()):
            for prefix in prefixes:
                settings.setdefault(prefix + rule_name, value)
    workflow.group_settings.overwrite_groups = type(workflow.group_settings.overwrite_groups)(groups)


_profile_settings_for([f"{condition}_" for condition in CONDITIONS])


# `module` needs a literal name unless given by its `name:` keyword, which Snakemake evaluates,
# and `use rule * from VAR as VAR_*` resolves the module from the variable VAR and the prefix
# of its rule names from the variable VAR_ (Snakemake's dynamic modules, workflow.userule).
for condition in CONDITIONS:

    module:
        name:
            condition
        snakefile:
            "study.smk"
        config:
            CONDITIONS[condition]
        replace_prefix:
            {"results/": f"results/{SWEEP}/{condition}/"}

    condition_ = f"{condition}_"

    use rule * from condition as condition_*


def condition_rule(condition, name):
    """Condition ``condition``'s copy of the study's rule ``name`` (its prefixed paths)."""
    return getattr(rules, f"{condition}_{name}")


def condition_ratings(condition):
    """Condition ``condition``'s ratings table, as text (a rule's file object does not pickle
    into a script job's params)."""
    return str(condition_rule(condition, "ratings").output.csv)


def sweep_reward_tables(wildcards=None):
    """Each condition's expected-reward tables, for the caps in its own reward.caps."""
    return {
        condition: expand(condition_rule(condition, "expected_reward").output.json, cap=cfg["reward"]["caps"])
        for condition, cfg in CONDITIONS.items()
        if cfg["source"] == "synthetic" and cfg["reward"]["caps"]
    }


include: "rules/sweep_summary.smk"


# Every condition's study and the summary: the Snakefile's rule all.
SWEEP_TARGETS = [*(condition_rule(c, "all").input for c in CONDITIONS), *rules.sweep_summary.output]
