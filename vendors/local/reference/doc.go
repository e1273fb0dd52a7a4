// Package reference holds the differential test of the offline liveness check (vendors/local)
// against minivision's own Silent-Face-Anti-Spoofing pipeline, run by OpenCV DNN:
//
//   - minivision.py is the reference: minivision's test.py pipeline (cv2.imread, Detection.get_bbox
//     with the Caffe RetinaFace of testdata/, CropImage.crop at 2.7x and 4.0x, both MiniFASNets of
//     vendors/local/weights through cv2.dnn), one JSON line per image.
//   - reference_test.go (build tag reference) generates about a hundred photos from the three
//     sample faces and compares minivision.py with preproc.Decode + antispoof.Engine.Check on them.
//   - install.sh installs Debian's python3-opencv and python3-numpy; run.sh installs them and runs
//     the test with LIVENESS_REFERENCE_REQUIRED=1.
//
// The package has no code of its own.
package reference
