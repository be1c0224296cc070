{
  "targets": [
    {
      "target_name": "guestkit_guestfs",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('.').filter(f => f.endsWith('.cc')).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('generated').filter(f => f.endsWith('.cc')).map(f => 'generated/' + f).join(' ')\")"
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
        "-lguestfs",
        "-lpthread"
      ],
      "defines": [
        "NAPI_VERSION=9",
        "NAPI_CPP_EXCEPTIONS"
      ]
    }
  ]
}
