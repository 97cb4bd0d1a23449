"""Layers that are not in ../shared/anchors/layers.py, to check that dsconv's standing holds
beyond the shapes it was tuned on: other networks (MobileNetV1, MobileNetV3, EfficientNet-B0,
ConvNeXt), odd map sizes and channel counts that are not a multiple of 16.

    bench_anchors.py --layers-file bench/anchors_extra_layers.py --threads 1 \\
        --frameworks dsconv,dsconv_nchw,xnnpack,torch_cl,torch_nchw,openvino_nhwc,ncnn,ort

Same dict format as layers.py ('same'-style padding k // 2, batch 1, fp32).
"""


def _dw(c, hw, s, k=3, note=""):
    return dict(name=f"dw{k}x{k} C{c} {hw}x{hw} s{s}", kind="dw", cin=c, cout=c,
                h=hw, w=hw, k=k, s=s, groups=c, note=note)


def _pw(cin, cout, hw, note=""):
    return dict(name=f"pw {cin}->{cout} {hw}x{hw}", kind="pw", cin=cin, cout=cout,
                h=hw, w=hw, k=1, s=1, groups=1, note=note)


LAYERS = [
    _dw(64, 112, 2, note="MBv1 conv_dw_2"),
    _dw(128, 56, 1, note="MBv1 conv_dw_3"),
    _dw(256, 28, 1, note="MBv1 conv_dw_5"),
    _dw(512, 14, 1, note="MBv1 conv_dw_7..11"),
    _dw(1024, 7, 1, note="MBv1 conv_dw_13"),
    _dw(40, 28, 1, k=5, note="MBv3-S / odd channels"),
    _dw(240, 14, 1, k=5, note="EffNet-B0 stage 4 (odd 14x14 channels)"),
    _dw(480, 14, 1, k=5, note="EffNet-B0 stage 5"),
    _dw(1152, 7, 1, k=5, note="EffNet-B0 stage 6"),
    _dw(200, 14, 1, note="MBv3-L (200 = 12.5 vectors)"),
    _dw(88, 17, 1, note="odd map and channels"),
    _dw(72, 27, 2, k=5, note="odd map, stride 2"),
    _dw(96, 56, 1, k=7, note="ConvNeXt-style 7x7"),
    _pw(64, 128, 56, note="MBv1"),
    _pw(256, 256, 28, note="MBv1"),
    _pw(512, 512, 14, note="MBv1"),
    _pw(40, 240, 28, note="EffNet-B0 expand"),
    _pw(1152, 192, 7, note="EffNet-B0 project"),
    _pw(200, 80, 14, note="MBv3-L project"),
    _pw(88, 24, 17, note="odd map and channels"),
]
