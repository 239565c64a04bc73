"""The Kubeflow engine: compile a PipelineSpec to a KFP v2 pipeline package (IR YAML).

Each step becomes a lightweight Python component whose small program calls
`kiln.engine.kfp.executor.run_step`, so values cross steps as KFP artifacts written with our
codecs, and the same package runs on a cluster and under `kfp.local`.
"""

from kiln.engine.kfp.compiler import compile_kfp

__all__ = ["compile_kfp"]
