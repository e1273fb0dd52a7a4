#!/usr/bin/env python3
"""minivision's face anti-spoofing pipeline, as its own code runs it, with OpenCV DNN.

This is the reference for the differential test of vendors/local (reference_test.go): the
pipeline of minivision-ai/Silent-Face-Anti-Spoofing (Apache-2.0) — test.py,
src/anti_spoof_predict.py (Detection.get_bbox, AntiSpoofPredict.predict) and
src/generate_patches.py (CropImage) — written again from that code, with the two MiniFASNet
networks run by cv2.dnn from their ONNX export instead of PyTorch:

 1. cv2.imread(path, cv2.IMREAD_COLOR): BGR, 8 bits, the JPEG's EXIF orientation applied.
 2. Detection.get_bbox: an image of at least 192x192 pixels is resized with INTER_LINEAR to
    (int(192*sqrt(w/h)), int(192/sqrt(w/h))); blobFromImage(img, 1, mean=(104, 117, 123));
    the Caffe RetinaFace's "detection_out"; the row with the highest confidence (np.argmax of
    column 2); bbox = [int(l), int(t), int(r-l+1), int(b-t+1)] with the relative corners times the
    width and height of the image given to get_bbox.
 3. CropImage.crop(image, bbox, scale, 80, 80) with scale 2.7 (MiniFASNetV2) and 4.0
    (MiniFASNetV1SE): the box scaled about its centre, clamped into the image, sliced and resized
    to 80x80 with cv2.resize's default INTER_LINEAR.
 4. Each network on the crop as float32 NCHW, BGR 0..255 (minivision's ToTensor does not scale),
    softmax; test.py sums the two softmax vectors: the label is the argmax of the sum and the
    score reported here is its class 1 (real) divided by 2, the mean real-class probability.

test.py also reshapes its input to a 3:4 aspect ratio (its Android demo's camera) before
get_bbox; that step is not part of the pipeline reproduced here (nor of the Go check), which
takes the image as decoded.

When the detector finds nothing: OpenCV 4.6's DetectionOutput then returns its keep_top_k rows
filled with zeros, so get_bbox does not fail but returns [0, 0, 1, 1] from an all-zero row and
test.py goes on to score a corner of the image. The output says so ("face": false) and still
gives what minivision's code would compute. Where minivision's code would raise (an image
OpenCV cannot read, a detector output that squeeze() reduces to one dimension, an empty crop),
the line carries "minivision_error" and whatever could be computed.

Usage:
  minivision.py [--list FILE] [--dump DIR] [--weights DIR] [--detector DIR] [IMAGE...]

Images come from the arguments and/or FILE (one path a line, "-" for standard input). Each image
gives one JSON line on standard output, in input order. With --dump, the decoded image and the
two crops are written to DIR as PNG (lossless) and their paths are in the JSON line.
"""

import argparse
import json
import math
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# The two anti-spoofing networks of minivision's resources/anti_spoof_models, by the file name
# of their ONNX export, with the crop scale and input size that parse_model_name reads from
# the original names (2.7_80x80_MiniFASNetV2.pth, 4_0_0_80x80_MiniFASNetV1SE.pth).
MODELS = [("MiniFASNetV2", 2.7, 80, 80), ("MiniFASNetV1SE", 4.0, 80, 80)]

# Dumps are written fast rather than small.
DUMP_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1]


class Detection:
    """src/anti_spoof_predict.py's Detection with the Caffe files given explicitly."""

    def __init__(self, prototxt, caffemodel):
        self.detector = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
        self.detector_confidence = 0.6  # defined by minivision, not used by get_bbox

    def get_bbox(self, img):
        """Returns (bbox, details): get_bbox's list and what this test wants to know besides."""
        height, width = img.shape[0], img.shape[1]
        aspect_ratio = width / height
        if img.shape[1] * img.shape[0] >= 192 * 192:
            img = cv2.resize(img,
                             (int(192 * math.sqrt(aspect_ratio)),
                              int(192 / math.sqrt(aspect_ratio))),
                             interpolation=cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(img, 1, mean=(104, 117, 123))
        self.detector.setInput(blob, 'data')
        raw = self.detector.forward('detection_out')
        out = raw.squeeze()
        details = {"det_size": [int(img.shape[1]), int(img.shape[0])]}
        if out.ndim != 2:
            # minivision's out[:, 2] raises IndexError here; go on with the rows there are.
            details["minivision_error"] = "detection_out squeezes to shape %s" % (out.shape,)
            out = raw.reshape(-1, 7)
        details["detections"] = int(np.count_nonzero(out[:, 2] > 0))
        max_conf_index = np.argmax(out[:, 2])
        left, top, right, bottom = out[max_conf_index, 3]*width, out[max_conf_index, 4]*height, \
            out[max_conf_index, 5]*width, out[max_conf_index, 6]*height
        bbox = [int(left), int(top), int(right-left+1), int(bottom-top+1)]
        details["conf"] = float(out[max_conf_index, 2])
        details["rel"] = [float(v) for v in out[max_conf_index, 3:7]]
        return bbox, details


def get_new_box(src_w, src_h, bbox, scale):
    """src/generate_patches.py's CropImage._get_new_box, operation by operation."""
    x = bbox[0]
    y = bbox[1]
    box_w = bbox[2]
    box_h = bbox[3]

    scale = min((src_h-1)/box_h, min((src_w-1)/box_w, scale))

    new_width = box_w * scale
    new_height = box_h * scale
    center_x, center_y = box_w/2+x, box_h/2+y

    left_top_x = center_x-new_width/2
    left_top_y = center_y-new_height/2
    right_bottom_x = center_x+new_width/2
    right_bottom_y = center_y+new_height/2

    if left_top_x < 0:
        right_bottom_x -= left_top_x
        left_top_x = 0

    if left_top_y < 0:
        right_bottom_y -= left_top_y
        left_top_y = 0

    if right_bottom_x > src_w-1:
        left_top_x -= right_bottom_x-src_w+1
        right_bottom_x = src_w-1

    if right_bottom_y > src_h-1:
        left_top_y -= right_bottom_y-src_h+1
        right_bottom_y = src_h-1

    return int(left_top_x), int(left_top_y), int(right_bottom_x), int(right_bottom_y)


def crop(org_img, bbox, scale, out_w, out_h):
    """CropImage.crop(org_img, bbox, scale, out_w, out_h, crop=True); also returns the box."""
    src_h, src_w, _ = np.shape(org_img)
    l, t, r, b = get_new_box(src_w, src_h, bbox, scale)
    img = org_img[t: b+1, l: r+1]
    return cv2.resize(img, (out_w, out_h)), [l, t, r, b]


def softmax(logits):
    """Softmax in double precision (F.softmax's float32 differs by ~1e-7)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


class Pipeline:
    def __init__(self, weights_dir, detector_dir):
        self.detection = Detection(
            os.path.join(detector_dir, "Widerface-RetinaFace.prototxt"),
            os.path.join(detector_dir, "Widerface-RetinaFace.caffemodel"))
        self.models = [(name, scale, w, h,
                        cv2.dnn.readNetFromONNX(os.path.join(weights_dir, name + ".onnx")))
                       for name, scale, w, h in MODELS]

    def run(self, path, dump_prefix=None):
        res = {"path": path}
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            res["minivision_error"] = "cv2.imread returned None (unreadable or unsupported format)"
            return res
        res["size"] = [int(image.shape[1]), int(image.shape[0])]
        dumps = {}
        if dump_prefix is not None:
            dumps["oriented"] = dump_prefix + ".oriented.png"
            cv2.imwrite(dumps["oriented"], image, DUMP_PNG)
        bbox, details = self.detection.get_bbox(image)
        res.update(details)
        res["bbox"] = bbox
        res["face"] = details["conf"] > 0
        prediction = np.zeros((1, 3))
        models = {}
        for name, scale, w, h, net in self.models:
            try:
                img, box = crop(image, bbox, scale, w, h)
            except (ZeroDivisionError, cv2.error) as e:
                res.setdefault("minivision_error", "%s crop: %s" % (name, e))
                break
            blob = img.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
            net.setInput(blob)
            logits = net.forward().reshape(-1)
            prob = softmax(logits)
            prediction += prob
            models[name] = {"scale": scale, "crop_ltrb": box,
                            "logits": [float(v) for v in logits],
                            "softmax": [float(v) for v in prob]}
            if dump_prefix is not None:
                dumps[name] = "%s.%s.png" % (dump_prefix, name)
                cv2.imwrite(dumps[name], img, DUMP_PNG)
        res["models"] = models
        if len(models) == len(self.models):
            label = int(np.argmax(prediction))
            res["label"] = label
            res["value"] = float(prediction[0][label] / 2)
            res["score"] = float(prediction[0][1] / 2)
        if dumps:
            res["dump"] = dumps
        return res


def main():
    ap = argparse.ArgumentParser(description="minivision's anti-spoofing pipeline on images, one JSON line each")
    ap.add_argument("images", nargs="*", help="image files")
    ap.add_argument("--list", help="file with one image path a line ('-': standard input)")
    ap.add_argument("--dump", help="directory for the decoded images and crops (PNG)")
    ap.add_argument("--weights", default=os.path.join(HERE, "..", "weights"),
                    help="directory of MiniFASNetV2.onnx and MiniFASNetV1SE.onnx")
    ap.add_argument("--detector", default=os.path.join(HERE, "testdata"),
                    help="directory of Widerface-RetinaFace.prototxt and .caffemodel")
    args = ap.parse_args()

    paths = list(args.images)
    if args.list:
        f = sys.stdin if args.list == "-" else open(args.list, encoding="utf-8")
        with f:
            paths += [line.rstrip("\r\n") for line in f if line.strip()]
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)

    pipeline = Pipeline(args.weights, args.detector)
    info = {"opencv": cv2.__version__, "numpy": np.__version__, "images": len(paths)}
    print(json.dumps({"reference": info}), flush=True)
    for i, path in enumerate(paths):
        prefix = os.path.join(args.dump, "%05d" % i) if args.dump else None
        try:
            res = pipeline.run(path, prefix)
        except Exception as e:  # one bad image must not hide the others
            res = {"path": path, "minivision_error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
