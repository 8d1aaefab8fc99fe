"""Face recognition at teaching scale: detect, align, embed (dlib ResNet on torch and MindSpore), verify."""
