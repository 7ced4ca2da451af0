"""The compiled scanner of plain TimeLens files is optional: without a C compiler the
package installs without it, and the numpy reader reads every file."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "timelens_eval.predictions_columns._cscan",
            ["timelens_eval/predictions_columns/_cscan.c"],
            optional=True,
        )
    ]
)
