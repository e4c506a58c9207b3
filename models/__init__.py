"""AVTNet family of networks, their losses and the shared training engine.

config.py (widths, full/tiny presets) · resnet.py (1-D/2-D ResNet-18 trunks, SE) · frame_trunk.py ·
roi_cnn.py · temporal.py (BiGRU) · streams.py (VideoNet, AudioNet) · fusion.py (SE fusion) ·
heads.py (regression / YOLT heads, decoding to seconds) · losses.py · avtnet.py (the three networks)
· dense.py (the fourth, per-second kind and decode_dense) · inputs.py (arrays -> model inputs,
predict_seconds) · kinds.py (one record per model kind: build_model, compute_loss, model_inputs) ·
checkpoint.py (load_checkpoint_model) · distributed.py (torchrun set-up, AMP) · engine.py (flags,
train/evaluate/test, main) used by avt_main.py, avt_normal_main.py, avt_yolt_main.py and
avt_dense_main.py.
"""
