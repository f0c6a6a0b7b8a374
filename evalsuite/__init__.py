"""Evaluation suite for the post-training playground: fixed queries, scorers, a code sandbox, robustness metrics
and reports. See assets/eval/README.md for the suite format and `python -m evalsuite run --help` for the runner.

    suite.py       load_suite(), validate_suite(): assets/eval/suite.jsonl as Query objects
    scorers.py     score_answer(query, answer) -> (score, passed, why)
    ifeval.py      IFEval's verifiable constraints, counted as IFEval counts (ifeval_text.py: words, sentences,
                   ALL-CAPS words, language). Strict = on the answer as written, loose = also with its first/last
                   line or markdown '*' removed; prompt level = all of a prompt's constraints hold, instruction
                   level = the share that hold
    sandbox.py     run_code_tests(): a model's function against assert-tests in a kernel-confined subprocess
                   (sandbox_child.py: Landlock, seccomp, uid drop); sandbox_status(), code_refusal()
    robustness.py  spread, worst case, consistency and flip rate across paraphrases and templates
    report.py      write_report(): report.json, report.csv, summary.csv, report.html; build_figures() for the app
    stats.py       bootstrap intervals over queries (paired between models) and the fixed verdict rule
    claims.py      the seed's claims judged with those intervals; claims_html.py renders claims.html
"""
