from inrcodec.cli import main

raise SystemExit(main())
