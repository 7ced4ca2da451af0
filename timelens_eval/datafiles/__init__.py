"""Benchmark files on disk: where they come from, fetching them, and what is there.

* :mod:`~timelens_eval.datafiles.sources`: which benchmarks are on the Hugging Face Hub
  (and in which repository) and the manual steps for those that are not;
* :mod:`~timelens_eval.datafiles.hub`: ``timelens-eval data download`` on top of
  ``huggingface_hub``, with a manifest that pins the revision;
* :mod:`~timelens_eval.datafiles.archive`: safe extraction of the video shards;
* :mod:`~timelens_eval.datafiles.status`: which annotation file and videos are present.

Nothing here is imported by ``import timelens_eval``; ``huggingface_hub`` is imported
only when something is downloaded.
"""
