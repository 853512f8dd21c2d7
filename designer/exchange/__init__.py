"""Designs out and models in: standalone PyTorch code, ONNX export and ONNX import.

No Qt here, and importing the package loads nothing heavy: torch, onnx, onnxruntime and
onnxscript are imported inside the functions that need them, so ``python main.py export
--help`` stays quick and a missing optional package is reported with the pip command that
adds it (``designer.exchange.errors.ONNX_INSTALL``).

- ``pytorch_code.export_pytorch``: a folder with model.py, train.py, data.py, distributed.py,
  README.md (and weights.pt with weights.json when there are trained weights);
- ``onnx_export.export_onnx``: one .onnx file, with the input normalisation baked in when the
  weights are trained;
- ``onnx_import.import_onnx``: an ONNX model as a design and its weights.
"""
