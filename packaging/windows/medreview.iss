; Inno Setup script: a per-user installer for the one-folder build (no administrator rights).
; Build dist\medreview\ first (python packaging\build.py), then:
;   iscc /DAppVersion=0.1.0 packaging\windows\medreview.iss
; Output: dist\medreview-<version>-windows-x86_64-setup.exe
; Signing (when a certificate is configured): pass /Ssigntool="signtool sign /fd sha256 /tr
; http://timestamp.digicert.com /td sha256 /a $f" and uncomment SignTool below.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "medreview"
#define AppExe "medreview.exe"

[Setup]
AppId={{6F0E3C59-2B7A-4C52-9E0B-5D3A9A1F7C11}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=medreview
DefaultDirName={userpf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per user: installs under %LOCALAPPDATA%\Programs, writes only HKCU, never asks for admin.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename={#AppName}-{#AppVersion}-windows-x86_64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=yes
UninstallDisplayIcon={app}\{#AppExe}
;SignTool=signtool

[Files]
Source: "..\..\dist\medreview\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{userprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; Flags: unchecked

[Registry]
; .mrpkg rater packages open in medreview when double-clicked (current user only).
Root: HKCU; Subkey: "Software\Classes\.mrpkg"; ValueType: string; ValueName: ""; ValueData: "medreview.package"; Flags: uninsdeletevalue
Root: HKCU; Subkey: "Software\Classes\.mrpkg"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-medreview-package"; Flags: uninsdeletevalue
Root: HKCU; Subkey: "Software\Classes\medreview.package"; ValueType: string; ValueName: ""; ValueData: "medreview rater package"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Classes\medreview.package\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKCU; Subkey: "Software\Classes\medreview.package\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
