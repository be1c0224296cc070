{
  "targets": [
    {
      "target_name": "guestkit",
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "sources": [
        "native/addon.cc",
        "<!@(node -p \"require('fs').readdirSync('native/sha256').filter(f => f.endsWith('.cc')).map(f => 'native/sha256/' + f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/guestfs').filter(f => f.endsWith('.cc')).map(f => 'native/guestfs/' + f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/guestfs/generated').filter(f => f.endsWith('.cc')).map(f => 'native/guestfs/generated/' + f).join(' ')\")"
      ],
      "include_dirs": ["native"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-lguestfs", "-lpthread"],
      "defines": ["NAPI_VERSION=9"]
    }
  ]
}
