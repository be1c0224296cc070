{
  "targets": [
    {
      "target_name": "guestkit_hash",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('.').filter(f => f.endsWith('.cc')).join(' ')\")"
      ],
      "include_dirs": [
        "..",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O2",
        "-Wall",
        "-Wno-unused-parameter"
      ],
      "libraries": [
        "-lpthread"
      ],
      "defines": [
        "NAPI_VERSION=9",
        "NAPI_CPP_EXCEPTIONS"
      ]
    }
  ]
}
